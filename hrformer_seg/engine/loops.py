"""Iteration-based training loop that resumes exactly and stops on NaN.

Differences from mmengine's ``IterBasedTrainLoop`` (same arguments, plus
``skip_nonfinite``):

- the data loader iterator is created when training starts, after a resume
  has loaded the checkpoint, and starts where the checkpoint left off (with
  :class:`~hrformer_seg.engine.sampler.ResumableInfiniteSampler`) instead of
  drawing and discarding every batch already trained on;
- the random states saved in the checkpoint (python, numpy, torch, per rank)
  are restored right before the first resumed iteration, after everything
  that draws random numbers while starting up;
- validation runs with the global RNG states saved and restored around it,
  so the training stream is the same with or without validation (and with
  or without a resume at a validation step);
- a non-finite loss never updates the weights, nor the buffers (BN running
  statistics) its forward pass touched: training stops with the iteration
  and the loss terms in the message, or, with ``skip_nonfinite=True``, the
  step is skipped and counted.
"""
import bisect
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import all_reduce, get_world_size, is_distributed
from mmengine.logging import print_log
from mmengine.optim import OptimWrapperDict
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmengine.runner.utils import calc_dynamic_intervals
from torch.utils.data import DataLoader

from hrformer_seg.registry import LOOPS
from .random_state import preserved_rng_state, set_rng_state


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the weights were not updated."""


class _NonFiniteLossGuard:
    """Stands in for the optim wrapper inside ``train_step``.

    Its ``update_params`` applies the update only when the loss is finite on
    every rank. Otherwise it still runs the backward pass (so the ranks'
    gradient all-reduces stay matched under DDP), throws the gradients away
    and records that the step was not applied. Everything else is delegated
    to the wrapped optim wrapper.
    """

    def __init__(self, optim_wrapper) -> None:
        self._optim_wrapper = optim_wrapper
        self.found_nonfinite = False

    def __getattr__(self, name: str):
        return getattr(self._optim_wrapper, name)

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        bad = torch.tensor(
            0. if bool(torch.isfinite(loss.detach()).all()) else 1.)
        if is_distributed():
            all_reduce(bad, op='max')
        if bad.item() == 0:
            self._optim_wrapper.update_params(loss, step_kwargs, zero_kwargs)
            return
        self.found_nonfinite = True
        if loss.requires_grad:
            self._optim_wrapper.backward(loss)
        self._optim_wrapper.zero_grad(**(zero_kwargs or {}))


def _format_terms(log_vars: Dict) -> str:
    terms = []
    for name, value in log_vars.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().float().mean().item()
        terms.append(f'{name}={value:.6g}' if isinstance(value, float)
                     else f'{name}={value}')
    return ', '.join(terms)


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(BaseLoop):
    """Iteration-based training that resumes bit-exactly.

    Args:
        runner: the runner.
        dataloader: a data loader or its config. For an exact resume, its
            sampler should be ``ResumableInfiniteSampler``; with another
            sampler the loop falls back to mmengine's way (draw and discard
            the batches already trained on).
        max_iters: total number of iterations.
        val_begin: first iteration at which to validate.
        val_interval: validation interval in iterations.
        dynamic_intervals: (milestone, interval) pairs changing
            ``val_interval`` after each milestone.
        skip_nonfinite: when the loss is NaN/inf, skip the step (no update;
            counted in the log and in the message hub as
            ``nonfinite_skipped``) instead of stopping with
            :class:`NonFiniteLossError`.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_iters: int,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None,
                 skip_nonfinite: bool = False) -> None:
        super().__init__(runner, dataloader)
        if int(max_iters) != max_iters:
            raise ValueError(f'max_iters must be an integer, got {max_iters}')
        self._max_iters = int(max_iters)
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.skip_nonfinite = skip_nonfinite
        # set by EarlyStoppingHook
        self.stop_training = False
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = \
                self.dataloader.dataset.metainfo
        self.dynamic_milestones, self.dynamic_intervals = \
            calc_dynamic_intervals(self.val_interval, dynamic_intervals)
        # The sample stream: `_stream_samples` samples (over all ranks) had
        # been drawn before iteration `_stream_iter`.
        self._stream_iter = 0
        self._stream_samples = 0
        self._pending_rng_state: Optional[dict] = None
        self.dataloader_iterator = None

    @property
    def max_epochs(self) -> int:
        return self._max_epochs

    @property
    def max_iters(self) -> int:
        return self._max_iters

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    # ----------------------------------------------------------- state
    @property
    def sampler(self):
        """The resumable sampler of the data loader, or None."""
        batch_sampler = getattr(self.dataloader, 'batch_sampler', None)
        for sampler in (getattr(self.dataloader, 'sampler', None),
                        getattr(batch_sampler, 'sampler', None)):
            if hasattr(sampler, 'set_start'):
                return sampler
        return None

    def _samples_per_iter(self) -> int:
        batch_size = (self.dataloader.batch_size
                      or self.dataloader.batch_sampler.batch_size)
        return batch_size * get_world_size()

    def samples_seen(self, at_iter: int) -> int:
        """Samples (over all ranks) drawn before iteration ``at_iter``."""
        return (self._stream_samples +
                (at_iter - self._stream_iter) * self._samples_per_iter())

    def state_dict(self, at_iter: int) -> dict:
        """What a checkpoint taken after ``at_iter`` iterations must hold."""
        state = dict(samples_seen=self.samples_seen(at_iter))
        if self.sampler is not None:
            state['sampler'] = self.sampler.state_dict()
        return state

    def load_state_dict(self, state: dict,
                        rng_state: Optional[dict] = None) -> None:
        """Continues the sample stream of a checkpoint.

        Must be called after ``_iter`` is set to the checkpoint's iteration.
        ``rng_state`` (this rank's) is applied when training starts.
        """
        self._stream_iter = self._iter
        self._stream_samples = int(state['samples_seen'])
        if self.sampler is not None and 'sampler' in state:
            self.sampler.load_state_dict(state['sampler'])
        self._pending_rng_state = rng_state

    # ------------------------------------------------------------- run
    def _start_data_stream(self) -> None:
        sampler = self.sampler
        if sampler is not None:
            sampler.set_start(self.samples_seen(self._iter))
            self.dataloader_iterator = iter(self.dataloader)
            return
        self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
        if self._iter > 0:
            print_log(
                f'The train sampler ({type(self.dataloader.sampler).__name__})'
                ' cannot start at a position: drawing and discarding '
                f'{self._iter} batches to skip the data already trained on, '
                'and the resumed run will not be exact. Use '
                "sampler=dict(type='ResumableInfiniteSampler').",
                logger='current', level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)

    def run(self) -> torch.nn.Module:
        """Trains until ``max_iters``."""
        self.runner.call_hook('before_train')
        # the whole run counts as one epoch, as in mmengine
        self.runner.call_hook('before_train_epoch')
        self._start_data_stream()
        try:
            if self._pending_rng_state is not None:
                set_rng_state(self._pending_rng_state)
                self._pending_rng_state = None
            while self._iter < self._max_iters and not self.stop_training:
                self.runner.model.train()
                data_batch = next(self.dataloader_iterator)
                self.run_iter(data_batch)
                self._decide_current_val_interval()
                if (self.runner.val_loop is not None
                        and self._iter >= self.val_begin
                        and (self._iter % self.val_interval == 0
                             or self._iter == self._max_iters)):
                    with preserved_rng_state():
                        self.runner.val_loop.run()
        finally:
            self._stop_data_stream()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _stop_data_stream(self) -> None:
        """Stops the data loader workers now that training is over.

        With an infinite sampler they would otherwise keep their prefetched
        batches until the garbage collector finds the iterator, which can
        stall whatever runs then for seconds.
        """
        iterator, self.dataloader_iterator = self.dataloader_iterator, None
        shutdown = getattr(iterator, '_shutdown_workers', None)
        if shutdown is None:
            return
        shutdown()
        if getattr(self.dataloader, '_iterator', None) is iterator:
            # persistent workers: the loader must not reuse the stopped one
            self.dataloader._iterator = None

    def run_iter(self, data_batch: Sequence[dict]) -> None:
        """One training step, held back if the loss is not finite."""
        self.runner.call_hook(
            'before_train_iter', batch_idx=self._iter, data_batch=data_batch)
        model = self.runner.model
        if isinstance(self.runner.optim_wrapper, OptimWrapperDict):
            # several optimizers, stepped by the model itself: no guard
            outputs = model.train_step(
                data_batch, optim_wrapper=self.runner.optim_wrapper)
        else:
            # the forward pass updates buffers (BN running statistics) even
            # when the loss turns out NaN: keep them to undo that
            buffers = [b.detach().clone() for b in model.buffers()]
            guard = _NonFiniteLossGuard(self.runner.optim_wrapper)
            outputs = model.train_step(data_batch, optim_wrapper=guard)
            if guard.found_nonfinite:
                with torch.no_grad():
                    for buffer, saved in zip(model.buffers(), buffers):
                        buffer.copy_(saved)
                self._on_nonfinite(outputs)
        self.runner.call_hook(
            'after_train_iter',
            batch_idx=self._iter,
            data_batch=data_batch,
            outputs=outputs)
        self._iter += 1

    def _on_nonfinite(self, outputs: Dict) -> None:
        where = f'iteration {self._iter + 1}/{self._max_iters}'
        if is_distributed():
            where += (' (on at least one rank; terms of rank '
                      f'{self.runner.rank})')
        terms = _format_terms(outputs) if isinstance(outputs, dict) else ''
        hub = self.runner.message_hub
        if not self.skip_nonfinite:
            last = hub.get_info('last_ckpt')
            raise NonFiniteLossError(
                f'Non-finite loss at {where}: {terms}. The weights were not '
                'updated with it and no checkpoint was written from this '
                'step' + (f'; the last checkpoint is {last}' if last else '')
                + '. To skip such steps instead of stopping, set '
                'train_cfg.skip_nonfinite=True.')
        skipped = hub.get_info('nonfinite_skipped', 0) + 1
        hub.update_info('nonfinite_skipped', skipped)
        self.runner.logger.warning(
            f'Skipped the step at {where}: non-finite loss ({terms}); '
            f'{skipped} step(s) skipped so far.')

    def _decide_current_val_interval(self) -> None:
        step = bisect.bisect(self.dynamic_milestones, (self._iter + 1))
        self.val_interval = self.dynamic_intervals[step - 1]
