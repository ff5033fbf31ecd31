"""FLOP counting: the one definition every tool of the project reports.

**Unit.** One FLOP is one floating-point multiplication or addition, so a
multiply-add counts 2 (GFLOP = 2 x GMAC; many papers report GMAC and call
them FLOPs). Counted: convolutions, matrix products (linear layers,
attention) and fused attention, as executed, forward and, where a backward
runs, backward. Not counted: element-wise work (norms, activations, softmax,
resizing, additions, an optimizer update).

**How.** ``torch.utils.flop_counter.FlopCounterMode`` counts the operators
dispatched while a function runs, with torch's own formulas plus ours
(:func:`flop_formulas`): a convolution's backward counted per group, the
NNPACK convolution of ``WinogradConv2d`` and torch's CPU flash-attention
kernels, which torch's counter does not know.

``tools/analysis_tools/get_flops.py`` (forward of one image) and the
benchmark harness (:mod:`benchmarks.harness`, the measured iteration) both
count with :func:`count_flops`. This module needs only torch: it runs in the
peer's environment too.
"""
from typing import Any, Callable, Dict, Sequence, Tuple

import torch

#: How the counts are reported, for tables and command-line output.
UNIT = 'GFLOP (1 multiply-add = 2 FLOPs)'


def _direct_conv_flops(batch: int, spatial: Sequence[int],
                       w_shape: Sequence[int]) -> int:
    """2 x batch x spatial size x prod(weight shape): a direct convolution
    over ``spatial`` positions; the weight shape (C_out, C_in / groups,
    k...) already accounts for groups."""
    flops = 2 * batch
    for size in (*spatial, *w_shape):
        flops *= size
    return flops


def conv_backward_flops(grad_out_shape: Sequence[int],
                        x_shape: Sequence[int], w_shape: Sequence[int],
                        *args: Any, out_shape: Any = None,
                        **kwargs: Any) -> int:
    """FLOPs of ``aten.convolution_backward`` (shapes in, as FlopCounterMode
    passes them).

    Each requested gradient (input, weight; ``output_mask`` is the last
    positional argument) costs as much as the forward convolution:
    2 x batch x spatial size x prod(weight shape), the spatial size being the
    output's for a convolution and the input's for a transposed one; the
    weight shape (C_out, C_in / groups, k...) already accounts for groups.
    torch's own formula ignores groups for the weight gradient and counts a
    depthwise convolution's weight gradient ``groups`` times too high.
    """
    transposed, output_mask = args[4], args[-1]
    spatial = (x_shape if transposed else grad_out_shape)[2:]
    forward = _direct_conv_flops(x_shape[0], spatial, w_shape)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


def nnpack_conv_flops(x_shape: Sequence[int], w_shape: Sequence[int],
                      *args: Any, out_shape: Sequence[int] = (),
                      **kwargs: Any) -> int:
    """``aten._nnpack_spatial_convolution`` (WinogradConv2d's kernel, which
    FlopCounterMode does not know): the direct convolution's FLOPs,
    2 x batch x output size x prod(weight shape). Winograd's transform
    needs fewer multiplications, so its rate in these units can exceed the
    matrix-multiply rate."""
    return _direct_conv_flops(x_shape[0], out_shape[2:], w_shape)


def _attention_products(query_shape: Sequence[int], key_shape: Sequence[int],
                        value_shape: Sequence[int]) -> int:
    """FLOPs of ``softmax(q k^T) v`` without the softmax.

    q (..., L, E), k (..., S, E), v (..., S, Ev): ``q k^T`` is L x S dot
    products of length E, ``p v`` L x Ev of length S; 2 FLOPs each step.
    """
    batch = 1
    for size in query_shape[:-2]:
        batch *= size
    length, embed = query_shape[-2:]
    source, value_embed = key_shape[-2], value_shape[-1]
    return 2 * batch * length * source * (embed + value_embed)


def cpu_attention_flops(query_shape: Sequence[int], key_shape: Sequence[int],
                        value_shape: Sequence[int], *args: Any,
                        out_shape: Any = None, **kwargs: Any) -> int:
    """``aten._scaled_dot_product_flash_attention_for_cpu`` (which torch's
    FlopCounterMode does not know): its two matrix products."""
    return _attention_products(query_shape, key_shape, value_shape)


def cpu_attention_backward_flops(grad_out_shape: Sequence[int],
                                 query_shape: Sequence[int],
                                 key_shape: Sequence[int],
                                 value_shape: Sequence[int], *args: Any,
                                 out_shape: Any = None,
                                 **kwargs: Any) -> int:
    """Its backward: both operands' gradients of both products, twice the
    forward (the recomputation of the attention weights is not counted)."""
    return 2 * _attention_products(query_shape, key_shape, value_shape)


def flop_formulas() -> Dict[Any, Callable[..., int]]:
    """Our formulas on top of FlopCounterMode's (see the functions)."""
    aten = torch.ops.aten
    formulas = {aten.convolution_backward: conv_backward_flops,
                aten._nnpack_spatial_convolution: nnpack_conv_flops}
    for name, formula in (
            ('_scaled_dot_product_flash_attention_for_cpu',
             cpu_attention_flops),
            ('_scaled_dot_product_flash_attention_for_cpu_backward',
             cpu_attention_backward_flops)):
        if hasattr(aten, name):
            formulas[getattr(aten, name)] = formula
    return formulas


def count_flops(step: Callable[[], Any]) -> Tuple[int, Dict[str, int]]:
    """Runs ``step`` once under FlopCounterMode; total and per-module FLOPs.

    Args:
        step: the work to count (called once, with no arguments).

    Returns:
        (total, per_module). ``per_module`` maps the name of every module
        that ran (called as ``module(...)``) to the FLOPs inside it, at
        every depth: the outermost module called is named by its class,
        its descendants by their attribute paths below it
        (``'CascadeEncoderDecoder.backbone.stage4'``). A container without
        a forward of its own (an ``nn.ModuleList``) is absent; its items
        are there. For a forward the modules' counts add up to the total
        where all the work is inside them; FlopCounterMode's attribution
        of backward work to modules is approximate (the parts overlap), so
        with a backward only the total is exact.
    """
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False, custom_mapping=flop_formulas())
    with counter:
        step()
    per_module = {name: int(sum(ops.values()))
                  for name, ops in counter.get_flop_counts().items()
                  if name != 'Global'}
    return int(counter.get_total_flops()), per_module


def flops_by_path(per_module: Dict[str, int]) -> Dict[str, int]:
    """:func:`count_flops`' per-module counts keyed by the attribute path
    below the outermost module (``'backbone.stage4'``), containers
    included as the sum of their items.

    Args:
        per_module: the second result of :func:`count_flops` for a step
            that calls one outermost module.

    Returns:
        path -> FLOPs for every module below the outermost one.
    """
    tracked = {name.split('.', 1)[1]: flops
               for name, flops in per_module.items() if '.' in name}
    paths = dict(tracked)
    for path, flops in tracked.items():
        parts = path.split('.')
        for depth in range(len(parts) - 1, 0, -1):  # nearest parent first
            parent = '.'.join(parts[:depth])
            if parent in tracked:
                break  # counted inside its tracked parent already
            paths[parent] = paths.get(parent, 0) + flops
    return paths
