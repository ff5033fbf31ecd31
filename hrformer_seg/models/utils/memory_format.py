"""The tensor layout the convolutions run in: NCHW or channels-last (NHWC).

oneDNN, torch's CPU convolution, computes in a channels-last layout. Given
NCHW tensors it reorders them around every convolution; under bfloat16
autocast those reorders cost as much as the convolutions themselves. A
channels-last model (its 4-D weights) and input avoid them; the numbers are
the same up to float rounding, only the memory order differs.

The model's ``memory_format`` setting:

* ``'auto'`` (default): channels-last weights on a machine without CUDA
  whose CPU has AVX-512 (torch reports ``AVX512``), where the float32
  convolutions are faster that way too; NCHW elsewhere (CUDA machines keep
  the reference layout, AVX2-only CPUs the layout their float32 path was
  tuned in). CPU inputs go channels-last with channels-last weights and
  under CPU autocast, on any CPU. ``WinogradConv2d`` runs NCHW whatever it
  is given (NNPACK's layout).
* ``'channels_last'``: channels-last weights and inputs on any device.
* ``'contiguous'``: NCHW throughout.

The rule depends only on the machine, so a resumed run takes the path the
interrupted one took.
"""
import torch
import torch.nn as nn

MEMORY_FORMATS = ('auto', 'channels_last', 'contiguous')


def check_memory_format(memory_format: str, owner: str) -> str:
    """Returns ``memory_format``; ValueError naming ``owner`` if unknown."""
    if memory_format not in MEMORY_FORMATS:
        raise ValueError(f'{owner}: memory_format must be one of '
                         f'{MEMORY_FORMATS}, got {memory_format!r}')
    return memory_format


def channels_last_weights(memory_format: str) -> bool:
    """Whether a model of this setting keeps its 4-D weights channels-last
    on this machine."""
    if memory_format == 'auto':
        return (not torch.cuda.is_available()
                and torch.backends.cpu.get_cpu_capability() == 'AVX512')
    return memory_format == 'channels_last'


def apply_memory_format(module: nn.Module, memory_format: str) -> bool:
    """Makes ``module``'s 4-D weights channels-last when
    :func:`channels_last_weights` says so; returns whether it did."""
    if not channels_last_weights(memory_format):
        return False
    module.to(memory_format=torch.channels_last)
    return True


def input_layout(x: torch.Tensor, memory_format: str,
                 weights_channels_last: bool) -> torch.Tensor:
    """``x`` (N, C, H, W) in the layout the model's convolutions want."""
    if x.dim() != 4 or memory_format == 'contiguous':
        return x
    if weights_channels_last or (x.device.type == 'cpu'
                                 and torch.is_autocast_enabled('cpu')):
        return x.contiguous(memory_format=torch.channels_last)
    return x
