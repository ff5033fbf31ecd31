"""What --amp resolves to on each kind of machine."""
from pathlib import Path

import pytest
import torch

from hrformer_seg.utils import precision


@pytest.fixture
def flags(monkeypatch):
    """Sets the CPU flags the module sees."""
    def set_flags(*names):
        monkeypatch.setattr(precision, 'cpu_flags',
                            lambda: frozenset(names))
    return set_flags


def test_native_bf16_from_the_cpu_flags(flags):
    flags('avx2', 'avx512f')
    assert not precision.cpu_has_native_bf16()
    assert 'no native bf16' in precision.cpu_summary()
    flags('avx512f', 'avx512_bf16')
    assert precision.cpu_has_native_bf16()
    flags('amx_bf16', 'amx_tile')
    assert precision.cpu_has_native_bf16()
    assert 'native bf16 (amx_bf16)' in precision.cpu_summary()


def test_cpu_flags_reads_proc_cpuinfo():
    found = precision.cpu_flags()
    try:
        with open('/proc/cpuinfo') as f:
            text = f.read()
    except OSError:
        assert found == frozenset()
        return
    line = next(row for row in text.splitlines()
                if row.startswith('flags'))
    assert found == frozenset(line.split(':', 1)[1].split())


def test_auto_on_a_cpu_without_native_bf16_runs_float32_and_says_so(
        flags, monkeypatch):
    said = []
    monkeypatch.setattr(precision, 'print_log',
                        lambda msg, **kwargs: said.append(msg))
    flags('avx2')
    assert precision.resolve_amp('auto', 'cpu') is None
    assert len(said) == 1
    assert 'no native bfloat16' in said[0] and '--amp bf16' in said[0]
    assert precision.resolve_amp('bf16', 'cpu') == 'bf16'  # forced


def test_auto_choices(flags):
    flags('amx_bf16')
    assert precision.resolve_amp(None, 'cpu') is None
    assert precision.resolve_amp('auto', 'cpu') == 'bf16'
    assert precision.resolve_amp('auto', 'cuda') == 'fp16'
    assert precision.resolve_amp('bf16', 'cuda') == 'bf16'
    with pytest.raises(ValueError, match='fp16 needs CUDA'):
        precision.resolve_amp('fp16', 'cpu')
    with pytest.raises(ValueError, match="'half'"):
        precision.resolve_amp('half', 'cpu')


def test_init_model_amp_switch(flags):
    from hrformer_seg.apis import init_model
    cfg = str(Path(__file__).parents[1] / 'helpers' / 'tiny_ocrnet_config.py')
    flags('avx2')
    assert init_model(cfg, amp=True).autocast_dtype is None
    assert init_model(cfg, amp='bf16').autocast_dtype is torch.bfloat16
    assert init_model(cfg).autocast_dtype is None
    flags('avx512_bf16')
    assert init_model(cfg, amp=True).autocast_dtype is torch.bfloat16
