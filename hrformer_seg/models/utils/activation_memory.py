"""Activation (gradient) checkpointing that leaves BatchNorm statistics alone.

``torch.utils.checkpoint`` runs a checkpointed function twice: once in the
forward pass and once more during backward to rebuild the activations. A
BatchNorm layer in training mode would then update its running mean/var twice
per step. :func:`checkpoint_module` runs the second pass with the running
statistics frozen, so a model trained with checkpointing ends up with the same
buffers as one trained without it.

Two kinds of checkpointing:

- full (``lean=False``, the backbones' ``with_cp``): only the inputs are kept;
  backward runs the whole forward again, convolutions included.
- lean (``lean=True``, ``lean_activations``): the outputs of dense
  convolutions and of fused attention kernels are kept from the forward pass
  and reused; backward recomputes only the cheap rest (norms, activations,
  linear projections, depthwise convolutions, reshapes, resizes). Gradients
  are the same; the element-wise tensors that dominate the activation memory
  of a transformer block or a conv-norm-act stack are not stored.
"""
import contextlib
from typing import Any, Callable, Iterator, List, Tuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import (CheckpointPolicy, checkpoint,
                                    create_selective_checkpoint_contexts)

_aten = torch.ops.aten

# fused attention kernels of F.scaled_dot_product_attention (CPU and CUDA);
# the unfused fallback is plain matmul + softmax, which lean mode recomputes
_ATTENTION_OPS = tuple(
    getattr(_aten, name).default for name in (
        '_scaled_dot_product_flash_attention_for_cpu',
        '_scaled_dot_product_flash_attention',
        '_scaled_dot_product_efficient_attention',
        '_scaled_dot_product_cudnn_attention',
    ) if hasattr(_aten, name))


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


def lean_policy(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> Any:
    """Selective-checkpoint policy of lean mode: keep the outputs of dense
    (``groups == 1``) convolutions and fused attention, recompute the rest."""
    if op is _aten.convolution.default and args[8] == 1:
        return CheckpointPolicy.MUST_SAVE
    if op is _aten._nnpack_spatial_convolution.default:  # WinogradConv2d
        return CheckpointPolicy.MUST_SAVE
    if op in _ATTENTION_OPS:
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


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


def call_checkpointed(module: nn.Module, fn: Callable, *args: Any,
                      with_cp: bool = False, lean: bool = False) -> Any:
    """``fn(*args)``, checkpointed when ``module`` trains with gradients:
    fully if ``with_cp``, else lean if ``lean``; plainly otherwise."""
    if not (module.training and torch.is_grad_enabled()) \
            or not (with_cp or lean):
        return fn(*args)
    return checkpoint_module(module, fn, *args, lean=not with_cp)
