"""glibc malloc settings that decide how much memory a CPU process keeps.

PyTorch allocates CPU tensors with the C library's ``malloc``. glibc serves a
request from its heap unless it is at least the *mmap threshold* large; only
then does the block get a mapping of its own, which goes back to the OS when
the tensor is freed. The threshold is dynamic by default: freeing a mapped
block of up to 32 MiB raises it to that block's size. After the first training
step, every tensor under 32 MiB (most of a model's activations) therefore
comes from the heap, where freed memory stays resident and fragments. A CPU
training step then holds several hundred MiB more than its live tensors, and
the peak creeps up from one iteration to the next.

A fixed threshold (:func:`set_mmap_threshold`, or ``env_cfg =
dict(malloc_mmap_threshold=...)`` in a config run by the tools) gives
each tensor at least that large its own mapping: the resident memory then
follows the live tensors, at the price of page faults on every new block.
Nothing here touches GPU memory.
"""
import ctypes
import ctypes.util
import functools
import platform
from typing import Mapping, Optional

# malloc.h: mallopt parameter number of M_MMAP_THRESHOLD
_M_MMAP_THRESHOLD = -3
# glibc refuses thresholds above HEAP_MAX_SIZE / 2 (32 MiB on 64-bit)
MAX_MMAP_THRESHOLD = 32 * 2**20


@functools.lru_cache(maxsize=None)
def glibc() -> Optional[ctypes.CDLL]:
    """The process's glibc, or None with another C library (macOS, musl)."""
    if platform.libc_ver()[0] != 'glibc':
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None


def set_mmap_threshold(nbytes: int) -> bool:
    """Makes every ``malloc`` of at least ``nbytes`` a separate mapping,
    returned to the OS on ``free``, from now on (for the whole process).

    Args:
        nbytes: the threshold in bytes, 1 to 32 MiB (e.g. ``1 << 20``).

    Returns:
        False when the C library is not glibc (nothing was changed).

    Raises:
        ValueError: when ``nbytes`` is out of range.
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) \
            or not 0 < nbytes <= MAX_MMAP_THRESHOLD:
        raise ValueError(f'malloc_mmap_threshold must be an integer number '
                         f'of bytes in 1..{MAX_MMAP_THRESHOLD} (32 MiB), got '
                         f'{nbytes!r}')
    libc = glibc()
    if libc is None:
        return False
    if libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(nbytes)) != 1:
        raise ValueError(f'glibc rejected malloc_mmap_threshold={nbytes}')
    return True


def apply_env_cfg(env_cfg: Mapping) -> Optional[str]:
    """Applies ``env_cfg['malloc_mmap_threshold']`` if the key is set.

    Returns:
        A warning to show when the setting could not be applied (not glibc),
        else None.

    Raises:
        ValueError: naming the key, when its value is out of range.
    """
    nbytes = env_cfg.get('malloc_mmap_threshold')
    if nbytes is None or set_mmap_threshold(nbytes):
        return None
    return ('env_cfg.malloc_mmap_threshold ignored: the C library is not '
            'glibc')
