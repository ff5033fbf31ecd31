"""glibc's mmap threshold (hrformer_seg.utils.malloc): how it is set, not
how a particular machine's allocator then behaves."""
import pytest

import hrformer_seg.utils.malloc as malloc
from hrformer_seg.utils.malloc import set_mmap_threshold


@pytest.mark.parametrize('value', [0, -1, 33 * 2**20, 1.5, True, '1048576'])
def test_out_of_range_threshold_names_the_key(value):
    with pytest.raises(ValueError, match='malloc_mmap_threshold'):
        set_mmap_threshold(value)


class _FakeLibc:
    """Records mallopt calls instead of changing this process's malloc."""

    def __init__(self, result=1):
        self.calls, self.result = [], result

    def mallopt(self, param, value):
        self.calls.append((param, value.value))
        return self.result


def test_threshold_is_set_through_mallopt(monkeypatch):
    libc = _FakeLibc()
    monkeypatch.setattr(malloc, 'glibc', lambda: libc)
    assert set_mmap_threshold(2**20) is True
    assert libc.calls == [(-3, 2**20)]  # M_MMAP_THRESHOLD


def test_refused_threshold_and_other_c_libraries(monkeypatch):
    monkeypatch.setattr(malloc, 'glibc', lambda: _FakeLibc(result=0))
    with pytest.raises(ValueError, match='glibc rejected'):
        set_mmap_threshold(2**20)
    monkeypatch.setattr(malloc, 'glibc', lambda: None)
    assert set_mmap_threshold(2**20) is False
    assert 'not glibc' in malloc.apply_env_cfg(
        dict(malloc_mmap_threshold=2**20))
