"""A ``CheckpointHook`` that never leaves the run without a good checkpoint."""
import os.path as osp
from typing import Any, List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.runner.checkpoint import _load_checkpoint

from hrformer_seg.registry import HOOKS
from ..checkpoint import (atomic_save, atomic_write_text,
                          remove_stale_temp_files)


class _DeferredRemovals:
    """A file backend whose ``remove``/``rmtree`` are only recorded."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.paths: List[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def remove(self, path: str) -> None:
        self.paths.append(path)

    def rmtree(self, path: str) -> None:
        self.paths.append(path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), reordered for crashes.

    mmengine deletes the oldest checkpoint (``max_keep_ckpts``) and the
    previous best one before writing the new file, writes it in place, and
    rewrites ``last_checkpoint`` in place: a crash during a save can leave a
    truncated file and nothing to resume from. Here, for every save:

    1. the new checkpoint is written atomically (``SegRunner.save_checkpoint``:
       temporary file, fsync, rename);
    2. then ``last_checkpoint`` is replaced atomically to name it;
    3. only then are outdated checkpoints deleted.

    Temporary files left by a run killed while saving are removed when
    training starts. Checkpoints go to local files only.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not isinstance(self.file_backend, LocalBackend):
            raise ValueError(
                'AtomicCheckpointHook writes checkpoints to local files only, '
                f'got default_hooks.checkpoint.out_dir={self.out_dir}')
        if is_main_process():
            for name in remove_stale_temp_files(self.out_dir):
                runner.logger.info(
                    f'removed {name}, left by an interrupted checkpoint save')

    def _remove(self, paths: List[str]) -> None:
        for path in paths:
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.file_backend.join_path(
                    self.out_dir,
                    self.filename_tmpl.format(self.keep_ckpt_ids.popleft())))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            **self.args)
        if not is_main_process():
            return
        atomic_write_text(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        self._remove([p for p in outdated if p != self.last_ckpt])

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # mmengine removes the previous best file before writing the new
        # one; record those removals and carry them out after the save
        backend = self.file_backend
        deferred = _DeferredRemovals(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        if is_main_process():
            self._remove(deferred.paths)

    def _publish_model(self, runner, ckpt_path: str) -> None:
        if not is_main_process():
            return
        import hashlib
        import pickle
        checkpoint = _load_checkpoint(ckpt_path)
        kept = {key: value for key, value in checkpoint.items()
                if key in self.published_keys}
        removed = sorted(set(checkpoint) - set(kept))
        if removed:
            runner.logger.info(f'publishing {ckpt_path} without {removed}')
        sha = hashlib.sha256(pickle.dumps(kept)).hexdigest()
        final_path = osp.splitext(ckpt_path)[0] + f'-{sha[:8]}.pth'
        atomic_save(kept, final_path)
        runner.logger.info(f'{ckpt_path} is published to {final_path}')
