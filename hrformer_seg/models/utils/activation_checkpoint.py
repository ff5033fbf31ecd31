"""Activation (gradient) checkpointing that leaves BatchNorm statistics alone.

``torch.utils.checkpoint`` runs a checkpointed function twice: once in the
forward pass and once more during backward to rebuild the activations. A
BatchNorm layer in training mode would then update its running mean/var twice
per step. :func:`checkpoint_module` runs the second pass with the running
statistics frozen, so a model trained with checkpointing ends up with the same
buffers as one trained without it.
"""
import contextlib
from typing import Any, Callable, Iterator, List, Tuple

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint


@contextlib.contextmanager
def frozen_bn_stats(module: nn.Module) -> Iterator[None]:
    """Inside the block, BatchNorm layers of ``module`` normalise with batch
    statistics as usual but do not touch ``running_mean``, ``running_var`` or
    ``num_batches_tracked``."""
    saved: List[Tuple[_BatchNorm, Any, Any]] = []
    for m in module.modules():
        if isinstance(m, _BatchNorm) and m.training \
                and m.track_running_stats:
            tracked = None
            if m.num_batches_tracked is not None:
                tracked = m.num_batches_tracked.clone()
            saved.append((m, m.momentum, tracked))
            # momentum 0 keeps the running averages: r = (1 - 0) * r + 0 * b
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


def checkpoint_module(module: nn.Module, fn: Callable, *args: Any) -> Any:
    """Call ``fn(*args)`` under non-reentrant activation checkpointing.

    The random state is restored for the recomputation (drop path draws the
    same masks) and the recomputation leaves the BatchNorm buffers of
    ``module`` untouched.

    Args:
        module: the module whose BatchNorm buffers ``fn`` updates.
        fn: the computation, usually ``module``'s own forward body.
        *args: tensors passed to ``fn``.
    """

    def contexts():
        return contextlib.nullcontext(), frozen_bn_stats(module)

    return checkpoint(fn, *args, use_reentrant=False, context_fn=contexts)
