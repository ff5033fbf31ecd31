"""3x3 convolution through NNPACK's Winograd kernels: a CPU-only option.

Most of the work in HRFormer + OCR is in the heads' two 3x3 convolutions
480 -> 512 at stride 4. torch's CPU convolution (oneDNN) runs them at the
machine's matrix-multiply rate. Winograd's minimal filtering computes a 3x3
convolution with a fraction of the multiplications; torch ships NNPACK,
whose Winograd kernels do it, but picks NNPACK only for batches of 16 or
more, where it switches to a slower batched algorithm. Called one image at a
time, NNPACK's single-image Winograd path can run these convolutions faster
than the direct convolution; by how much depends on the CPU (measure with
``tools/analysis_tools/benchmark.py``).

:class:`WinogradConv2d` is an ``nn.Conv2d`` (same parameters, same checkpoint
keys) that takes that path for what it can do exactly: float32 CPU tensors,
3x3 kernel, stride 1, padding 1, no dilation, no groups, zero padding, no
autocast, NNPACK not switched off (``torch.backends.nnpack.flags``), not
while tracing, compiling or exporting (ONNX, TorchScript,
``torch.export`` see a plain convolution). Everything else, CUDA included,
goes through ``nn.Conv2d``. The backward pass computes the input gradient
with the same kernels (it is a 3x3 convolution with the flipped, transposed
weight) and the weight and bias gradients with torch's own convolution
backward. Results differ from the direct convolution by float32 rounding
(relative 1e-5 of the output's magnitude; the transform adds and subtracts
more terms).

It is off by default. A config opts in per head with
``conv_cfg=dict(type='WinogradConv2d')``: it is registered as a conv layer
type in mmengine's root ``MODELS`` registry, where mmcv's
``build_conv_layer`` (and so ``ConvModule``) looks conv types up, next to
mmcv's own ``Conv2d``; the name resolves with or without a default scope.
For CPU training and inference only: on a GPU it is a plain ``nn.Conv2d``.
Lean activation memory keeps its outputs like those of ``nn.Conv2d``
(:func:`~hrformer_seg.models.utils.activation_memory.keep_output_in_lean_mode`).
"""
import functools
from typing import Any, Optional, Tuple

import torch
from mmengine.registry import MODELS as MMENGINE_MODELS
from torch import Tensor, nn

from ..utils.activation_memory import keep_output_in_lean_mode

_aten = torch.ops.aten
# its forward output is a dense convolution's: lean mode keeps it
keep_output_in_lean_mode(_aten._nnpack_spatial_convolution.default)


@functools.lru_cache(maxsize=None)
def nnpack_available() -> bool:
    """Whether torch was built with NNPACK and it runs on this CPU.

    ``torch._nnpack_available`` also initialises NNPACK; its convolution
    fails if called before that.
    """
    return bool(getattr(torch, '_nnpack_available', lambda: False)())


def _conv_per_image(x: Tensor, weight: Tensor,
                    bias: Optional[Tensor]) -> Tensor:
    """3x3, stride-1, padding-1 convolution of ``x`` (N, C, H, W) by
    ``weight`` (C_out, C, 3, 3) with NNPACK, one image at a time (its
    single-image path is the Winograd one)."""
    x = x.contiguous()
    weight = weight.contiguous()
    if bias is None:
        bias = weight.new_zeros(weight.shape[0])
    outs = [
        torch._nnpack_spatial_convolution(image, weight, bias, [1, 1],
                                          [1, 1]) for image in x.split(1)
    ]
    return outs[0] if len(outs) == 1 else torch.cat(outs)


class _WinogradConv3x3(torch.autograd.Function):
    """Autograd for :func:`_conv_per_image` (first derivatives only)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor,
                bias: Optional[Tensor]) -> Tensor:
        ctx.save_for_backward(x, weight)
        return _conv_per_image(x, weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: Tensor
                 ) -> Tuple[Optional[Tensor], ...]:
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        grad_out = grad_out.contiguous()
        if need_x:
            # the adjoint of a same-size 3x3 correlation is the same-size
            # correlation with the kernel flipped and in/out swapped
            grad_x = _conv_per_image(
                grad_out, weight.flip(2, 3).transpose(0, 1), None)
        if need_w or need_b:  # need_b is False when there is no bias
            _, grad_w, grad_b = _aten.convolution_backward(
                grad_out, x, weight, [weight.shape[0]] if need_b else None,
                [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                [False, need_w, need_b])
        return grad_x, grad_w, grad_b


@MMENGINE_MODELS.register_module()
class WinogradConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose 3x3 same-size convolutions run through NNPACK's
    Winograd kernels on the CPU (see the module docstring for when); CPU
    only, chosen by ``conv_cfg=dict(type='WinogradConv2d')``.

    Takes exactly ``nn.Conv2d``'s arguments and has its parameters; a
    checkpoint of one loads into the other. Convolutions it cannot run
    exactly (1x1, strided, other dtypes, CUDA) are ``nn.Conv2d``'s, so a
    whole head can be built with it.
    """

    def uses_winograd(self, x: Tensor) -> bool:
        """Whether :meth:`forward` takes the NNPACK path for input ``x``."""
        return (x.device.type == 'cpu' and x.dim() == 4
                and x.dtype == torch.float32
                and self.weight.dtype == torch.float32
                and self.kernel_size == (3, 3) and self.stride == (1, 1)
                and self.padding == (1, 1) and self.dilation == (1, 1)
                and self.groups == 1 and self.padding_mode == 'zeros'
                and not torch.is_autocast_enabled('cpu')
                and not torch.compiler.is_compiling()
                and not torch.jit.is_tracing()
                and not torch.onnx.is_in_onnx_export()
                and torch._C._get_nnpack_enabled()  # backends.nnpack.flags
                and nnpack_available())

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C_in, H, W) -> (N, C_out, H, W) on the Winograd path."""
        if not self.uses_winograd(x):
            return super().forward(x)
        return _WinogradConv3x3.apply(x, self.weight, self.bias)
