"""What the machine and this process do while a benchmark runs.

- the fp32 matrix-multiply rate (:func:`matmul_rate`): numbers from two runs
  are comparable only through it, and a low rate shows a machine busy with
  something else;
- the cores other processes kept busy (:func:`cpu_seconds`,
  :func:`other_cores_busy`, from ``/proc/stat``);
- memory: the resident set size now and the peak of a window
  (:func:`reset_peak_memory`, :func:`peak_memory_mb`): CUDA's
  ``max_memory_allocated`` on a GPU, the peak resident set size on a CPU
  (VmHWM, or ``getrusage`` off Linux).

Only torch and the standard library: the peer's environment runs this too.
"""
import ctypes
import ctypes.util
import gc
import os
import resource
import sys
import time
from typing import List, Optional, Tuple

import torch

MATMUL_SIZE = 2048
MATMUL_REPEAT = 5

#: (machine busy CPU seconds, this process's CPU seconds, wall time).
CpuTimes = Tuple[float, float, float]


def sync(device: torch.device) -> None:
    """Waits for the device's queued work (a no-op on a CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def matmul_rate(device: torch.device, size: int = MATMUL_SIZE,
                repeat: int = MATMUL_REPEAT) -> List[float]:
    """GFLOP/s of fp32 ``torch.mm`` of two size x size matrices, per run.

    Args:
        device: where to multiply.
        size: matrix size.
        repeat: timed products (after one untimed).

    Returns:
        ``repeat`` rates, ``2 size^3`` FLOPs per product.
    """
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    torch.mm(a, b)
    rates = []
    for _ in range(repeat):
        sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return rates


def cpu_seconds() -> CpuTimes:
    """(machine busy CPU seconds, this process's CPU seconds, wall time).

    The machine's from /proc/stat (all cores; NaN where unavailable)."""
    busy = float('nan')
    try:
        with open('/proc/stat') as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf(
            'SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        pass
    own = os.times()
    return busy, own.user + own.system, time.perf_counter()


def other_cores_busy(start: CpuTimes, end: CpuTimes) -> float:
    """Cores kept busy by other processes between two :func:`cpu_seconds`
    (NaN where /proc/stat is unavailable)."""
    wall = end[2] - start[2]
    others = (end[0] - start[0]) - (end[1] - start[1])
    return max(others, 0.0) / wall if wall > 0 else float('nan')


def current_rss_mb() -> float:
    """Resident set size now (MiB), from /proc (0 where unavailable)."""
    try:
        with open('/proc/self/statm') as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf('SC_PAGE_SIZE') / 2**20
    except (OSError, ValueError):
        return 0.0


def reset_peak_memory(device: torch.device) -> bool:
    """Start a new peak-memory window; False where the OS cannot (the peak
    then stays the process's lifetime peak).

    On a CPU with glibc, the heap memory freed so far is first handed back to
    the OS (``malloc_trim``): glibc keeps freed memory resident, and the
    window would otherwise start at the warm-up's peak."""
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        return True
    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    try:  # Linux: "5" resets the resident set's high-water mark (VmHWM)
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _vm_hwm_mb() -> Optional[float]:
    """VmHWM of /proc/self/status in MiB (None where unavailable)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError):
        pass
    return None


def peak_memory_mb(device: torch.device) -> Tuple[float, str]:
    """Peak memory (MiB) since :func:`reset_peak_memory` (or since the
    process started) and what it is."""
    if device.type == 'cuda':
        return (torch.cuda.max_memory_allocated(device) / 2**20,
                'cuda max_memory_allocated')
    hwm = _vm_hwm_mb()
    if hwm is not None:
        return hwm, 'peak RSS (VmHWM)'
    # ru_maxrss: KiB on Linux, bytes on macOS
    scale = 1 if sys.platform == 'darwin' else 1024
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
            / 2**20, 'peak RSS (ru_maxrss)')
