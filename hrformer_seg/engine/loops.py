"""Iteration-based training that resumes without replaying the data."""
import copy
import itertools
from typing import Dict, List, Optional, Sequence, Union

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
    # with a resumable sampler: a SeededDataset, the sampler held until run()
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


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` that resumes bit-exactly without replaying
    the data, and stops with :class:`NonFiniteLossError` (naming the
    iteration and the loss terms) when ``FiniteLossOptimWrapper`` refused a
    step; ``skip_nonfinite=True`` skips it instead, weights and buffers kept.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict], *args,
                 skip_nonfinite: bool = False, **kwargs) -> None:
        if isinstance(dataloader, dict):
            dataloader = _seeded_dataloader_cfg(dataloader)
        # its iterator draws a seed: keep the model's random stream as it is
        with preserved_rng_state():
            super().__init__(runner, dataloader, *args, **kwargs)
        self.skip_nonfinite = skip_nonfinite
        # `_stream_samples` samples (all ranks) came before `_stream_iter`
        self._stream_iter = self._stream_samples = 0
        self._pending_rng_state: Optional[dict] = None

    @property
    def sampler(self) -> Optional[ResumableInfiniteSampler]:
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
        """Continues a checkpoint's stream (``rng_state``: in run_iter)."""
        self._stream_iter = at_iter
        self._stream_samples = int(state['samples_seen'])
        if self.sampler is not None and 'sampler' in state:
            self.sampler.load_state_dict(state['sampler'])
        self._pending_rng_state = rng_state

    def run(self) -> torch.nn.Module:
        """Trains until ``max_iters``, starting the stream where it stopped."""
        if self.sampler is not None:
            self.sampler.set_start(self.samples_seen(self._iter))
            # mmengine's run() draws the batches trained on: none is read
            self._data_iterator = iter(self.dataloader)
            self.dataloader_iterator = itertools.chain(
                itertools.repeat(None, self._iter), self._data_iterator)
        try:
            return super().run()
        finally:
            self._stop_workers()

    def _stop_workers(self) -> None:
        # else workers hold their batches until garbage collection (stalls)
        iterator = getattr(self, '_data_iterator', None)
        if hasattr(iterator, '_shutdown_workers'):
            iterator._shutdown_workers()
            if getattr(self.dataloader, '_iterator', None) is iterator:
                self.dataloader._iterator = None  # persistent workers

    def run_iter(self, data_batch: Sequence[dict]) -> None:
        """One training step; a non-finite loss stops or skips it."""
        model = self.runner.model
        # a NaN step still updates BN statistics: keep them to undo it
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
