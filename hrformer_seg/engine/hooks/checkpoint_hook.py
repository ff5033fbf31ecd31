"""A ``CheckpointHook`` that never leaves the run without a good checkpoint."""
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from hrformer_seg.registry import HOOKS
from ..checkpoint import remove_stale_temp_files


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) writing through the
    ``'atomic_local'`` backend: no partial file, and replaced checkpoints
    are deleted only once their successor is complete. Local files only.
    """

    def __init__(self, *args, backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        if backend_args not in (None, dict(backend='atomic_local')):
            raise ValueError(
                'AtomicCheckpointHook writes local files only (atomic '
                f'replace); got backend_args={backend_args}')
        super().__init__(
            *args, backend_args=dict(backend='atomic_local'), **kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process():
            for name in remove_stale_temp_files(self.out_dir):
                runner.logger.info(
                    f'removed {name}, left by an interrupted checkpoint save')
        self._remove_replaced()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        self._remove_replaced()

    def after_train_epoch(self, runner) -> None:
        super().after_train_epoch(runner)
        self._remove_replaced()

    def after_val_epoch(self, runner, metrics: Dict) -> None:
        super().after_val_epoch(runner, metrics)
        self._remove_replaced()

    def _remove_replaced(self) -> None:
        current = [self.last_ckpt, getattr(self, 'best_ckpt_path', None),
                   *getattr(self, 'best_ckpt_path_dict', {}).values()]
        if hasattr(self, 'file_backend') and is_main_process():
            self.file_backend.remove_pending(keep=current)
