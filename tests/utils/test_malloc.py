"""glibc's mmap threshold (hrformer_seg.utils.malloc)."""
import json
import subprocess
import sys

import pytest

from hrformer_seg.utils.malloc import glibc, set_mmap_threshold

needs_glibc = pytest.mark.skipif(glibc() is None, reason='needs glibc')


@pytest.mark.parametrize('value', [0, -1, 33 * 2**20, 1.5, True, '1048576'])
def test_out_of_range_threshold_names_the_key(value):
    with pytest.raises(ValueError, match='malloc_mmap_threshold'):
        set_mmap_threshold(value)


# Run in subprocesses: the setting is process-wide and permanent.
_PROBE = '''
import json, os, sys, torch
from hrformer_seg.utils.malloc import set_mmap_threshold

def rss_mib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20

out = dict(set=set_mmap_threshold(2**20) if sys.argv[1] == 'fixed' else None)
big = torch.ones(16 * 2**18)
del big  # freeing 16 MiB raises glibc's dynamic threshold to 16 MiB
start = rss_mib()
blocks = [torch.ones(2**19) for _ in range(64)]  # 2 MiB each, written
out['held'] = rss_mib() - start
last = blocks[-1]
del blocks  # all but the last one, which is still used
out['kept_after_free'] = rss_mib() - start
print(json.dumps(out))
'''


def _probe(mode):
    proc = subprocess.run([sys.executable, '-c', _PROBE, mode],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@needs_glibc
def test_fixed_threshold_returns_freed_tensor_memory():
    """128 MiB of 2 MiB tensors, all but the last one freed: glibc's default
    keeps them resident (the heap shrinks only from its top), a 1 MiB
    threshold does not."""
    default, fixed = _probe('default'), _probe('fixed')
    assert fixed['set'] is True
    assert default['held'] > 100 and fixed['held'] > 100
    assert default['kept_after_free'] > 100
    assert fixed['kept_after_free'] < 16, fixed
