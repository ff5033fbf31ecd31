"""Iteration-based training that resumes without replaying the data."""
import copy
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import get_world_size, is_distributed
from mmengine.runner import IterBasedTrainLoop
from torch.utils.data import DataLoader

from hrformer_seg.registry import DATA_SAMPLERS, DATASETS, LOOPS
from .random_state import preserved_rng_state, set_rng_state
from .sampler import ResumableInfiniteSampler, SeededDataset


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the weights were not updated."""


def _seeded_dataloader_cfg(cfg: dict) -> dict:
    """With a resumable sampler: the dataset wrapped in SeededDataset, the
    sampler held (iterators empty) until the loop gives it a start."""
    sampler = cfg.get('sampler')
    sampler_type = sampler.get('type') if isinstance(sampler, dict) else None
    if isinstance(sampler_type, str):
        sampler_type = DATA_SAMPLERS.get(sampler_type)
    if not (isinstance(sampler_type, type)
            and issubclass(sampler_type, ResumableInfiniteSampler)):
        return cfg
    cfg = copy.copy(cfg)
    dataset = cfg['dataset']
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
    cfg['dataset'] = SeededDataset(dataset)
    cfg['sampler'] = dict(sampler, start=None)
    return cfg


class _Skipping:
    """``iterator`` whose first ``skip`` items are None (not read)."""

    def __init__(self, iterator: Iterator, skip: int) -> None:
        self.iterator, self.skip = iterator, skip

    def __next__(self) -> Any:
        if self.skip > 0:
            self.skip -= 1
            return None
        return next(self.iterator)


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """mmengine's ``IterBasedTrainLoop`` that resumes bit-exactly.

    With a :class:`ResumableInfiniteSampler` the data stream starts where the
    checkpoint left off (nothing is drawn and discarded) and augmentation is
    seeded by stream position. The checkpoint's random states (handed over
    by :class:`~hrformer_seg.engine.hooks.ExactResumeHook`) are restored
    right before the first resumed iteration. When
    :class:`~hrformer_seg.engine.FiniteLossOptimWrapper` saw a
    non-finite loss (and did not step), training stops with
    :class:`NonFiniteLossError` naming the iteration and each loss term,
    before any hook sees the step.

    Args:
        skip_nonfinite: skip such a step instead (weights and buffers, e.g.
            BN statistics, are kept as they were; counted as
            ``nonfinite_skipped`` in the message hub).
        others: as for ``IterBasedTrainLoop``.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_iters: int,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None,
                 skip_nonfinite: bool = False) -> None:
        if isinstance(dataloader, dict):
            dataloader = _seeded_dataloader_cfg(dataloader)
        # the (held) iterator made here draws a seed from torch's RNG: keep
        # it from shifting the random stream of the model's initialisation
        with preserved_rng_state():
            super().__init__(runner, dataloader, max_iters, val_begin,
                             val_interval, dynamic_intervals)
        self.skip_nonfinite = skip_nonfinite
        # `_stream_samples` samples (over all ranks) were drawn before
        # iteration `_stream_iter`
        self._stream_iter = 0
        self._stream_samples = 0
        self._pending_rng_state: Optional[dict] = None

    @property
    def sampler(self) -> Optional[ResumableInfiniteSampler]:
        """The resumable sampler of the data loader, or None."""
        batch_sampler = getattr(self.dataloader, 'batch_sampler', None)
        for sampler in (getattr(self.dataloader, 'sampler', None),
                        getattr(batch_sampler, 'sampler', None)):
            if isinstance(sampler, ResumableInfiniteSampler):
                return sampler
        return None

    def samples_seen(self, at_iter: int) -> int:
        """Samples (over all ranks) drawn before iteration ``at_iter``."""
        batch_size = (self.dataloader.batch_size
                      or self.dataloader.batch_sampler.batch_size)
        return self._stream_samples + (
            at_iter - self._stream_iter) * batch_size * get_world_size()

    def state_dict(self, at_iter: int) -> dict:
        """What a checkpoint taken after ``at_iter`` iterations must hold."""
        state = dict(samples_seen=self.samples_seen(at_iter))
        if self.sampler is not None:
            state['sampler'] = self.sampler.state_dict()
        return state

    def load_state_dict(self, state: dict, at_iter: int,
                        rng_state: Optional[dict] = None) -> None:
        """Continues the stream of a checkpoint taken after ``at_iter``
        iterations; this rank's ``rng_state`` is set when training starts."""
        self._stream_iter = at_iter
        self._stream_samples = int(state['samples_seen'])
        if self.sampler is not None and 'sampler' in state:
            self.sampler.load_state_dict(state['sampler'])
        self._pending_rng_state = rng_state

    def run(self) -> torch.nn.Module:
        """Trains until ``max_iters``, starting the stream where it stopped."""
        if self.sampler is not None:
            self.sampler.set_start(self.samples_seen(self._iter))
            # mmengine's run() draws the batches already trained on to skip
            # them: the stream starts after them, so they are not read
            self.dataloader_iterator = _Skipping(iter(self.dataloader),
                                                 self._iter)
        try:
            return super().run()
        finally:
            self._stop_workers()

    def _stop_workers(self) -> None:
        # else the workers keep their prefetched batches until the garbage
        # collector finds them, stalling whatever runs then (no public call)
        iterator = getattr(self.dataloader_iterator, 'iterator', None)
        if hasattr(iterator, '_shutdown_workers'):
            iterator._shutdown_workers()
            if getattr(self.dataloader, '_iterator', None) is iterator:
                self.dataloader._iterator = None  # persistent workers

    def run_iter(self, data_batch: Sequence[dict]) -> None:
        """One training step; a non-finite loss stops or skips it."""
        model = self.runner.model
        # the forward pass updates buffers (BN statistics) even when the
        # loss turns out NaN: keep them to take a skipped step back
        saved = ([b.detach().clone() for b in model.buffers()]
                 if self.skip_nonfinite else None)
        if self._pending_rng_state is not None:  # the first resumed step
            set_rng_state(self._pending_rng_state)
            self._pending_rng_state = None
        self.runner.call_hook(
            'before_train_iter', batch_idx=self._iter, data_batch=data_batch)
        optim_wrapper = self.runner.optim_wrapper
        outputs = model.train_step(data_batch, optim_wrapper=optim_wrapper)
        if getattr(optim_wrapper, 'skipped_nonfinite', False):
            self._on_nonfinite(outputs, saved)
        self.runner.call_hook(
            'after_train_iter', batch_idx=self._iter, data_batch=data_batch,
            outputs=outputs)
        self._iter += 1

    def _on_nonfinite(self, outputs: Dict,
                      saved: Optional[List[torch.Tensor]]) -> None:
        where = f'iteration {self._iter + 1}/{self._max_iters}'
        if is_distributed():
            where += (' (on at least one rank; terms of rank '
                      f'{self.runner.rank})')
        terms = ', '.join(
            f'{k}={float(v):.6g}' for k, v in (outputs or {}).items())
        hub = self.runner.message_hub
        if saved is None:
            last = hub.get_info('last_ckpt')
            raise NonFiniteLossError(
                f'Non-finite loss at {where}: {terms}. The weights were not '
                'updated with it and no checkpoint was written from this '
                'step' + (f'; the last checkpoint is {last}' if last else '')
                + '. To skip such steps instead of stopping, set '
                'train_cfg.skip_nonfinite=True.')
        with torch.no_grad():
            for buffer, value in zip(self.runner.model.buffers(), saved):
                buffer.copy_(value)
        skipped = hub.get_info('nonfinite_skipped', 0) + 1
        hub.update_info('nonfinite_skipped', skipped)
        self.runner.logger.warning(
            f'Skipped the step at {where}: non-finite loss ({terms}); '
            f'{skipped} step(s) skipped so far.')
