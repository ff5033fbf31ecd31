"""Which mixed precision this machine runs well, and the tools' ``--amp``.

bfloat16 matrix work is native on CPUs with AVX512-BF16 or AMX (``lscpu``
shows ``avx512_bf16`` / ``amx_bf16``): there it is several times faster
than float32. Elsewhere torch emulates it, slower than float32, so ``--amp``
(``'auto'``) trains and tests in float32 on such CPUs and says so;
``--amp bf16`` forces it. On CUDA ``'auto'`` is float16 with loss scaling
(mmengine's ``AmpOptimWrapper``), as MMSegmentation's ``--amp``.
"""
import functools
import logging
from typing import FrozenSet, Optional

import torch
from mmengine.logging import print_log

AMP_CHOICES = ('auto', 'bf16', 'fp16')
#: the torch dtype of each precision :func:`resolve_amp` returns
AUTOCAST_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
_BF16_FLAGS = ('avx512_bf16', 'amx_bf16')


@functools.lru_cache(maxsize=None)
def cpu_flags() -> FrozenSet[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where there is no
    such file, e.g. not on Linux)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return frozenset(line.split(':', 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes bfloat16 in hardware (AVX512-BF16, AMX)."""
    return any(flag in cpu_flags() for flag in _BF16_FLAGS)


def cpu_summary() -> str:
    """The CPU's vector capability as torch sees it and its bf16 support,
    for logs and benchmark reports, e.g. ``'AVX512, native bf16 (amx_bf16
    avx512_bf16)'``."""
    bf16 = sorted(f for f in _BF16_FLAGS if f in cpu_flags())
    return (f'{torch.backends.cpu.get_cpu_capability()}, '
            + (f"native bf16 ({' '.join(bf16)})" if bf16
               else 'no native bf16'))


def resolve_amp(choice: Optional[str], device_type: str) -> Optional[str]:
    """The precision a tool's ``--amp CHOICE`` runs in on ``device_type``.

    Args:
        choice: None (no ``--amp``), 'auto', 'bf16' or 'fp16'.
        device_type: 'cpu' or 'cuda' (where the model runs).

    Returns:
        None (float32), 'bf16' or 'fp16'; a warning says why when 'auto'
        falls back to float32.

    Raises:
        ValueError: 'fp16' on a CPU, or an unknown choice.
    """
    if choice is None:
        return None
    if choice not in AMP_CHOICES:
        raise ValueError(f'--amp must be one of {AMP_CHOICES}, got {choice!r}')
    if device_type != 'cpu':
        return 'fp16' if choice == 'auto' else choice
    if choice == 'fp16':
        raise ValueError('--amp fp16 needs CUDA; on a CPU use --amp bf16')
    if choice == 'auto' and not cpu_has_native_bf16():
        print_log(
            f'--amp: this CPU ({cpu_summary()}) has no native bfloat16, '
            'where bf16 runs slower than float32: running in float32 '
            '(--amp bf16 forces bf16)', logger='current',
            level=logging.WARNING)
        return None
    return 'bf16'
