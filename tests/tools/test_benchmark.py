"""tools/analysis_tools/benchmark.py: FLOP formulas, TTA views, one tiny run."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

from hrformer_seg.models.layers import WinogradConv2d
from hrformer_seg.models.layers.winograd_conv import nnpack_available

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'analysis_tools' / 'benchmark.py'
CONFIG = ROOT / 'configs' / 'hrformer' / 'ocrnet_hrformer-s_demo_cityscapes-like.py'
# a narrow decode head keeps the run short; the backbone is the real one
TINY = ['model.decode_head.fcn.channels=16', 'model.decode_head.ocr.channels=16',
        'model.decode_head.ocr.ocr_channels=8']


def load_benchmark():
    spec = importlib.util.spec_from_file_location('benchmark_tool', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


benchmark = load_benchmark()


def counted(fn, *tensors):
    counter = FlopCounterMode(display=False,
                              custom_mapping=benchmark.flop_formulas())
    with counter:
        fn(*tensors)
    return {str(op): n for op, n in counter.get_flop_counts()['Global'].items()}


@pytest.mark.parametrize('groups,transposed', [(1, False), (4, False),
                                                (8, False), (2, True)])
def test_conv_backward_counts_groups(groups, transposed):
    cls = nn.ConvTranspose2d if transposed else nn.Conv2d
    conv = cls(8, 8, 3, stride=2, padding=1, groups=groups)
    x = torch.randn(2, 8, 10, 12, requires_grad=True)
    out = conv(x)
    # multiply-adds by hand: every output (input, for a transposed conv)
    # element takes 8 / groups channels x 3 x 3 taps
    spatial_elems = x.numel() if transposed else out.numel()
    macs = spatial_elems * (8 // groups) * 9
    flops = counted(lambda t: conv(t).sum().backward(), x)
    assert flops['aten.convolution'] == 2 * macs
    # grad input + grad weight, each as costly as the forward
    assert flops['aten.convolution_backward'] == 4 * macs


def test_conv_backward_without_input_gradient():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(1, 3, 5, 6)  # an image: no gradient to the input
    flops = counted(lambda t: conv(t).sum().backward(), x)
    assert flops['aten.convolution_backward'] == 2 * (1 * 4 * 5 * 6) * 3 * 9


@pytest.mark.skipif(not nnpack_available(), reason='no NNPACK')
def test_winograd_conv_counted_as_the_direct_convolution():
    conv = WinogradConv2d(8, 6, 3, padding=1)
    x = torch.randn(2, 8, 10, 12, requires_grad=True)
    flops = counted(lambda t: conv(t).sum().backward(), x)
    macs = 2 * 6 * 10 * 12 * 8 * 9
    # forward and input gradient through NNPACK, weight gradient by torch
    assert flops['aten._nnpack_spatial_convolution'] == 2 * (2 * macs)
    assert flops['aten.convolution_backward'] == 2 * macs


def test_cpu_flash_attention_counted():
    q = torch.randn(3, 2, 49, 16)
    k = torch.randn(3, 2, 49, 16)
    v = torch.randn(3, 2, 49, 8)
    bias = torch.randn(1, 2, 49, 49)
    with torch.no_grad():
        flops = counted(lambda: nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=bias))
    # q k^T: 49 x 49 dot products of 16; p v: 49 x 8 dot products of 49
    expected = 2 * 3 * 2 * (49 * 49 * 16 + 49 * 8 * 49)
    assert sum(flops.values()) == expected


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='peak reset via /proc/self/clear_refs')
def test_peak_memory_window_excludes_earlier_allocations():
    cpu = torch.device('cpu')
    big = torch.ones(256 * 2**20 // 4)  # 256 MiB, touched
    del big
    before, _ = benchmark.peak_memory_mb(cpu)
    assert benchmark.reset_peak_memory(cpu)
    after, kind = benchmark.peak_memory_mb(cpu)
    assert 'VmHWM' in kind
    assert after < before - 200
    small = torch.ones(64 * 2**20 // 4)
    grown, _ = benchmark.peak_memory_mb(cpu)
    assert grown > after + 50
    del small


def test_tta_views_from_config():
    cfg = Config(dict(tta_pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='TestTimeAug', transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in (0.5, 1.5)],
            [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
             dict(type='RandomFlip', prob=1.0, direction='horizontal')],
            [dict(type='PackSegInputs')]])]))
    assert benchmark.tta_views_from_cfg(cfg) == [
        (0.5, False), (0.5, True), (1.5, False), (1.5, True)]
    assert benchmark.tta_views_from_cfg(Config(dict(img_ratios=[1.0]))) == [
        (1.0, False), (1.0, True)]


@pytest.mark.slow
@pytest.mark.parametrize('mode', ['infer', 'train'])
def test_benchmark_runs_and_reports(mode, tmp_path):
    out = tmp_path / 'result.json'
    cmd = [sys.executable, str(SCRIPT), str(CONFIG), '--mode', mode,
           '--shape', '64', '128', '--repeat', '1', '--warmup', '1',
           '--json', str(out), '--cfg-options', *TINY]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    for field in ('time per image (s)', 'peak memory (MiB',
                  'achieved GFLOP/s', 'fp32 matmul GFLOP/s'):
        assert field in proc.stdout
    result = json.loads(out.read_text())
    assert result['mode'] == mode and result['shape'] == [64, 128]
    assert result['time_per_image_s']['median'] > 0
    # a process holding torch and a model: well above 50 MiB, below 20 GiB
    assert 50 < result['peak_memory_mb']['median'] < 20 * 1024
    assert result['peak_memory_mb']['median'] >= \
        result['rss_after_build_mb']['median'] * 0.99
    assert result['gflop_per_image'] > 0
    assert result['achieved_gflops'] > 0
    assert result['matmul_gflops']['median'] > 0
    assert result['achieved_gflops'] == pytest.approx(
        result['gflop_per_image'] / result['time_per_image_s']['median'])
    parts = dict(benchmark.top_modules(result['gflop_per_image_per_module']))
    assert parts['backbone'] > 0
    if mode == 'infer':
        # forward only: the modules' counts add up to the total (all the work
        # is inside the model); in training FlopCounterMode's attribution of
        # backward work to modules overlaps, so only the total is exact
        assert sum(parts.values()) == pytest.approx(
            result['gflop_per_image'], rel=1e-6)
