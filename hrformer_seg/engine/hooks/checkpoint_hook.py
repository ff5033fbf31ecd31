"""A ``CheckpointHook`` that never leaves the run without a good checkpoint."""
import os
import os.path as osp
import re
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from hrformer_seg.registry import HOOKS
from ..checkpoint import remove_stale_temp_files


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), safe against crashes.

    mmengine writes checkpoints in place and deletes the oldest checkpoint
    (``max_keep_ckpts``) and the previous best one *before* writing the new
    file: a crash during a save can leave a truncated file and, with
    ``max_keep_ckpts=1``, nothing to resume from. Here:

    - every file is written through the ``'atomic_local'`` file backend
      (:class:`~hrformer_seg.engine.checkpoint.AtomicLocalBackend`):
      temporary file, fsync, rename;
    - outdated checkpoints and the previous best one are deleted only after
      the new file is complete;
    - temporary files left by a run killed while saving are removed when
      training starts.

    Checkpoints go to local files only.
    """

    def __init__(self, *args, max_keep_ckpts: int = -1,
                 backend_args: Optional[dict] = None, **kwargs) -> None:
        if backend_args not in (None, dict(backend='atomic_local')):
            raise ValueError(
                'AtomicCheckpointHook writes local files only (atomic '
                f'replace); got backend_args={backend_args}')
        # mmengine would delete before saving: the hook prunes afterwards
        super().__init__(*args, max_keep_ckpts=-1,
                         backend_args=dict(backend='atomic_local'), **kwargs)
        self.keep_last = max_keep_ckpts

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process():
            for name in remove_stale_temp_files(self.out_dir):
                runner.logger.info(
                    f'removed {name}, left by an interrupted checkpoint save')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        self._prune()

    def after_train_epoch(self, runner) -> None:
        super().after_train_epoch(runner)
        self._prune()

    def _prune(self) -> None:
        """Keeps the ``keep_last`` newest checkpoints up to the last one.

        Checkpoints of later steps (another run's, in the same directory)
        are left alone.
        """
        if self.keep_last <= 0 or self.last_ckpt is None \
                or not is_main_process():
            return
        pattern = re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)')
        steps = []
        for name in os.listdir(self.out_dir):
            match = re.fullmatch(pattern, name)
            if match:
                steps.append((int(match.group(1)), name))
        last = osp.basename(self.last_ckpt)
        last_step = next((s for s, n in steps if n == last), None)
        if last_step is None:
            return
        older = [n for s, n in sorted(steps) if s <= last_step]
        for name in older[:-self.keep_last]:
            os.remove(osp.join(self.out_dir, name))

    def after_val_epoch(self, runner, metrics: Dict) -> None:
        if self.save_best is None:
            return super().after_val_epoch(runner, metrics)
        # hide the previous best files from mmengine, which would delete
        # them before saving; delete them once the new ones are written
        single = len(self.key_indicators) == 1
        previous = ({None: self.best_ckpt_path} if single
                    else dict(self.best_ckpt_path_dict))
        if single:
            self.best_ckpt_path = None
        else:
            self.best_ckpt_path_dict = dict.fromkeys(previous)
        super().after_val_epoch(runner, metrics)
        for key, old in previous.items():
            if single:
                new = self.best_ckpt_path
                self.best_ckpt_path = new or old
            else:
                new = self.best_ckpt_path_dict[key]
                self.best_ckpt_path_dict[key] = new or old
            if old and new and new != old and is_main_process() \
                    and osp.isfile(old):
                os.remove(old)
                runner.logger.info(f'The previous best checkpoint {old} '
                                   'is removed')
