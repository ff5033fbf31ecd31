"""Activation memory of a training step: one setting, three modes.

``activation_memory`` says what the forward pass of a training step keeps
for backward:

- ``'full'`` (the default): everything autograd saves; plain autograd,
  nothing is recomputed. This is the reference computation.
- ``'lean'``: selective checkpointing. The outputs of dense (``groups == 1``)
  convolutions, of fused attention kernels and of the ops registered with
  :func:`keep_output_in_lean_mode` are kept; backward recomputes the cheap
  rest (norms, activations, linear projections, depthwise convolutions,
  reshapes, resizes). The same gradients; the element-wise tensors that
  dominate the activation memory of a transformer block or a
  conv-norm-act stack are not stored.
- ``'checkpoint'``: full activation checkpointing. Only the inputs of each
  checkpointed unit are kept; backward runs its forward again, convolutions
  included (least memory, about one forward pass more).

The setting is made once per model: ``model=dict(activation_memory=...)``
in a config (the segmentor gives it to every part whose own config does
not set ``activation_memory``), or :func:`set_activation_memory` on a
built model. The units that honour it derive from
:class:`ActivationMemoryMixin` and read their ``activation_memory``
attribute in ``forward``: HRFormer's bottlenecks and transformer blocks
and the decode heads. In eval mode or without gradients every mode runs
the plain forward.

Recomputation leaves BatchNorm statistics alone: ``torch.utils.checkpoint``
runs a checkpointed function twice, and a BatchNorm layer in training mode
would update its running mean/var twice per step. :func:`checkpoint_module`
runs the second pass with the running statistics frozen, so a model
trained with recomputation ends up with the buffers of one trained without.
"""
import contextlib
from typing import Any, Callable, Iterator, List, Set, Tuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import (
    CheckpointPolicy,
    checkpoint,
    create_selective_checkpoint_contexts,
)

ACTIVATION_MEMORY_MODES = ('full', 'lean', 'checkpoint')
DEFAULT_ACTIVATION_MEMORY = 'full'

_aten = torch.ops.aten

# ops whose outputs lean mode keeps besides dense convolutions: the fused
# kernels of F.scaled_dot_product_attention (CPU and CUDA; the unfused
# fallback is plain matmul + softmax, which lean mode recomputes) and what
# layers register with keep_output_in_lean_mode
_KEPT_OPS: Set[Any] = {
    getattr(_aten, name).default for name in (
        '_scaled_dot_product_flash_attention_for_cpu',
        '_scaled_dot_product_flash_attention',
        '_scaled_dot_product_efficient_attention',
        '_scaled_dot_product_cudnn_attention',
    ) if hasattr(_aten, name)
}


def check_activation_memory(mode: str, owner: str) -> str:
    """Return ``mode`` if it is one of :data:`ACTIVATION_MEMORY_MODES`.

    Args:
        mode: the requested mode.
        owner: named in the error (the module or config that asked).

    Raises:
        ValueError: ``mode`` is not a known mode.
    """
    if mode not in ACTIVATION_MEMORY_MODES:
        raise ValueError(
            f'{owner}: activation_memory must be one of '
            f'{", ".join(repr(m) for m in ACTIVATION_MEMORY_MODES)}, '
            f'got {mode!r}')
    return mode


def keep_output_in_lean_mode(op: Any) -> None:
    """Have lean mode keep the outputs of ``op`` (an ATen op overload such
    as ``torch.ops.aten.some_op.default``) instead of recomputing them.

    For layers that compute a dense convolution or matrix product through
    an op of their own: lean mode then treats them like ``nn.Conv2d``.
    """
    _KEPT_OPS.add(op)


def lean_policy(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> Any:
    """Selective-checkpoint policy of lean mode: keep the outputs of dense
    (``groups == 1``) convolutions and of the kept ops, recompute the
    rest."""
    if op is _aten.convolution.default and args[8] == 1:
        return CheckpointPolicy.MUST_SAVE
    if op in _KEPT_OPS:
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


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


@contextlib.contextmanager
def _frozen_bn_around(module: nn.Module, inner: Any) -> Iterator[None]:
    """BatchNorm statistics frozen around torch's selective-checkpoint
    recomputation mode ``inner`` (entered inside, so the freezing's own
    tensor ops run outside that mode)."""
    with frozen_bn_stats(module), inner:
        yield


def checkpoint_module(module: nn.Module,
                      fn: Callable,
                      *args: Any,
                      lean: bool = False) -> Any:
    """Call ``fn(*args)`` under non-reentrant activation checkpointing.

    The random state is restored for the recomputation (drop path and
    dropout draw the same masks) and the recomputation leaves the BatchNorm
    buffers of ``module`` untouched.

    Args:
        module: the module whose BatchNorm buffers ``fn`` updates.
        fn: the computation, usually ``module``'s own forward body.
        *args: tensors passed to ``fn``.
        lean: keep dense convolution and attention outputs and recompute
            only the rest (:func:`lean_policy`); otherwise recompute all.
    """

    def contexts():
        if lean:
            forward_ctx, recompute_ctx = create_selective_checkpoint_contexts(
                lean_policy)
            return forward_ctx, _frozen_bn_around(module, recompute_ctx)
        return contextlib.nullcontext(), frozen_bn_stats(module)

    return checkpoint(fn, *args, use_reentrant=False, context_fn=contexts)


class ActivationMemoryMixin:
    """A unit of an ``nn.Module`` model that honours the activation memory
    setting.

    ``activation_memory`` (class default :data:`DEFAULT_ACTIVATION_MEMORY`)
    is set per instance by :func:`set_activation_memory`; the unit's
    ``forward`` passes its computation to :meth:`run_with_activation_memory`.
    """

    activation_memory: str = DEFAULT_ACTIVATION_MEMORY

    def run_with_activation_memory(self, fn: Callable, *args: Any) -> Any:
        """``fn(*args)`` under this unit's mode: plainly for 'full', in eval
        mode or without gradients; else checkpointed by
        :func:`checkpoint_module` (lean for 'lean')."""
        mode = check_activation_memory(self.activation_memory,
                                       type(self).__name__)
        if mode == 'full' or not (self.training and torch.is_grad_enabled()):
            return fn(*args)
        return checkpoint_module(self, fn, *args, lean=mode == 'lean')


def set_activation_memory(model: nn.Module, mode: str) -> int:
    """Set the activation memory mode of every unit of ``model``.

    Args:
        model: any module; ``model`` itself and each of its submodules that
            is an :class:`ActivationMemoryMixin` get ``mode``.
        mode: 'full', 'lean' or 'checkpoint' (see the module docstring).

    Returns:
        The number of units set (0 if ``model`` has none).

    Raises:
        ValueError: ``mode`` is not a known mode.
    """
    mode = check_activation_memory(mode, type(model).__name__)
    units = [m for m in model.modules()
             if isinstance(m, ActivationMemoryMixin)]
    for unit in units:
        unit.activation_memory = mode
    return len(units)
