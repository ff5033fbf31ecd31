"""The benchmark harness (benchmarks/) and tools/analysis_tools/benchmark.py:
FLOP formulas, TTA views, memory readings, one tiny run of the tool.

Nothing here asserts how fast a machine is or how its allocator behaves:
the measurements are checked for their structure, units and sanity only.
"""
import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import compare, flops, harness, machine
from hrformer_seg.models.layers import WinogradConv2d
from hrformer_seg.models.layers.winograd_conv import nnpack_available

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'analysis_tools' / 'benchmark.py'
CONFIG = (ROOT / 'configs' / 'hrformer' /
          'ocrnet_hrformer-s_demo_cityscapes-like.py')
# a narrow decode head keeps the run short; the backbone is the real one
TINY = ['model.decode_head.fcn.channels=16',
        'model.decode_head.ocr.channels=16',
        'model.decode_head.ocr.ocr_channels=8']
PEAK_KINDS = ('peak RSS (VmHWM)', 'peak RSS (ru_maxrss)',
              'cuda max_memory_allocated')


def counted(fn, *tensors):
    counter = FlopCounterMode(display=False,
                              custom_mapping=flops.flop_formulas())
    with counter:
        fn(*tensors)
    return {str(op): n
            for op, n in counter.get_flop_counts()['Global'].items()}


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
    counts = counted(lambda t: conv(t).sum().backward(), x)
    assert counts['aten.convolution'] == 2 * macs
    # grad input + grad weight, each as costly as the forward
    assert counts['aten.convolution_backward'] == 4 * macs


def test_conv_backward_without_input_gradient():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(1, 3, 5, 6)  # an image: no gradient to the input
    counts = counted(lambda t: conv(t).sum().backward(), x)
    assert counts['aten.convolution_backward'] == 2 * (1 * 4 * 5 * 6) * 3 * 9


@pytest.mark.skipif(not nnpack_available(), reason='no NNPACK')
def test_winograd_conv_counted_as_the_direct_convolution():
    conv = WinogradConv2d(8, 6, 3, padding=1)
    x = torch.randn(2, 8, 10, 12, requires_grad=True)
    counts = counted(lambda t: conv(t).sum().backward(), x)
    macs = 2 * 6 * 10 * 12 * 8 * 9
    # forward and input gradient through NNPACK, weight gradient by torch
    assert counts['aten._nnpack_spatial_convolution'] == 2 * (2 * macs)
    assert counts['aten.convolution_backward'] == 2 * macs


def test_cpu_flash_attention_counted():
    q = torch.randn(3, 2, 49, 16)
    k = torch.randn(3, 2, 49, 16)
    v = torch.randn(3, 2, 49, 8)
    bias = torch.randn(1, 2, 49, 49)
    with torch.no_grad():
        counts = counted(lambda: nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=bias))
    # q k^T: 49 x 49 dot products of 16; p v: 49 x 8 dot products of 49
    expected = 2 * 3 * 2 * (49 * 49 * 16 + 49 * 8 * 49)
    assert sum(counts.values()) == expected


def test_count_flops_per_module_and_paths():
    class Net(nn.Module):

        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 8))
            self.heads = nn.ModuleList([nn.Linear(8, 2), nn.Linear(8, 3)])

        def forward(self, x):
            x = self.stem(x)
            return [head(x) for head in self.heads]

    net = Net()
    total, per_module = flops.count_flops(lambda: net(torch.randn(5, 4)))
    # 2 FLOPs per multiply-add, batch 5
    stem = 2 * 5 * (4 * 8 + 8 * 8)
    heads = 2 * 5 * (8 * 2 + 8 * 3)
    assert total == stem + heads
    assert per_module['Net'] == total
    assert per_module['Net.stem.1'] == 2 * 5 * 8 * 8
    assert 'Net.heads' not in per_module  # a ModuleList has no forward
    paths = flops.flops_by_path(per_module)
    assert paths['stem'] == stem and paths['stem.0'] == 2 * 5 * 4 * 8
    assert paths['heads'] == heads  # the container: its items' sum
    assert paths['heads.1'] == 2 * 5 * 8 * 3
    assert dict(harness.top_modules(per_module)) == {
        'stem': stem, 'heads.0': 2 * 5 * 8 * 2, 'heads.1': 2 * 5 * 8 * 3}


def test_memory_readings_are_well_formed():
    """Only the form of the readings: what an allocator keeps or returns
    differs from machine to machine."""
    cpu = torch.device('cpu')
    assert machine.current_rss_mb() >= 0
    assert isinstance(machine.reset_peak_memory(cpu), bool)
    peak, kind = machine.peak_memory_mb(cpu)
    assert math.isfinite(peak) and peak > 0
    assert kind in PEAK_KINDS
    busy = machine.other_cores_busy(machine.cpu_seconds(),
                                    machine.cpu_seconds())
    assert math.isnan(busy) or busy >= 0


def test_tta_views_from_config():
    cfg = Config(dict(tta_pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='TestTimeAug', transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in (0.5, 1.5)],
            [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
             dict(type='RandomFlip', prob=1.0, direction='horizontal')],
            [dict(type='PackSegInputs')]])]))
    assert harness.tta_views_from_cfg(cfg) == [
        (0.5, False), (0.5, True), (1.5, False), (1.5, True)]
    assert harness.tta_views_from_cfg(Config(dict(img_ratios=[1.0]))) == [
        (1.0, False), (1.0, True)]


def _fake_run(name, seconds, peak_mb, gflop):
    """A worker result as :func:`benchmarks.harness.worker` writes it."""
    return dict(
        name=name, mode='infer', shape=[64, 128], batch=1,
        infer_api='predict', device='cpu', threads=2, torch='x',
        num_params=10, iter_times=[seconds], warmup=1,
        flops_per_iter=int(gflop * 1e9),
        flops_per_module={'Seg.backbone': int(gflop * 1e9)},
        peak_memory_mb=peak_mb, peak_memory_kind='peak RSS (VmHWM)',
        rss_after_build_mb=peak_mb / 2, matmul_gflops=[50.0, 60.0],
        loadavg_before=[0.5, 0.5, 0.5], loadavg_after=[1.0, 1.0, 1.0],
        other_cores_busy=0.0, info={})


def test_summary_and_tables_from_worker_results():
    ours = harness.summarize([_fake_run('ours', 2.0, 1024, 8.0),
                              _fake_run('ours', 4.0, 2048, 8.0)])
    peer = harness.summarize([_fake_run('peer', 4.0, 2048, 16.0)])
    assert ours['time_per_image_s']['median'] == 3.0
    assert ours['gflop_per_image'] == 8.0
    assert ours['achieved_gflops'] == pytest.approx(8.0 / 3.0)
    table = harness.format_table(ours)
    assert f'| counted {flops.UNIT} per image | 8.0 |' in table
    assert 'GFLOP per image by module: backbone 8.0' in table
    args = SimpleNamespace(shape=[64, 128], infer_api='predict',
                           mode='infer', batch=1, repeat=2, iters=1)
    rows = compare.comparison_table(ours, peer, [0.5, 1.0], args)
    assert '| time per image (s), median [min-max] | 3.00 [2.00-4.00] | ' \
        '4.00 [4.00-4.00] | 0.75 (paired median 0.75) |' in rows
    assert f'| counted {flops.UNIT} per image | 8.0 | 16.0 | 0.50 |' in rows


@pytest.mark.slow
@pytest.mark.parametrize('mode', ['infer', 'train'])
def test_benchmark_runs_and_reports(mode, tmp_path):
    out = tmp_path / 'result.json'
    cmd = [sys.executable, str(SCRIPT), str(CONFIG), '--mode', mode,
           '--shape', '64', '128', '--repeat', '1', '--warmup', '1',
           '--json', str(out), '--cfg-options', *TINY]
    # from another directory: the tool finds benchmarks/ by itself
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    for row in ('time per image (s)', 'peak memory (MiB',
                f'counted {flops.UNIT} per image', 'achieved GFLOP/s',
                'fp32 matmul GFLOP/s'):
        assert row in proc.stdout
    result = json.loads(out.read_text())
    assert result['mode'] == mode and result['shape'] == [64, 128]
    assert result['num_params'] > 0
    # positive, finite readings in the units the fields name
    for key in ('time_per_image_s', 'peak_memory_mb', 'matmul_gflops'):
        stats = result[key]
        assert stats['n'] >= 1
        assert 0 < stats['min'] <= stats['median'] <= stats['max'] < math.inf
    assert result['rss_after_build_mb']['min'] >= 0  # 0: no /proc
    assert result['peak_memory_kind'].startswith(PEAK_KINDS)
    assert result['gflop_per_image'] > 0
    assert result['achieved_gflops'] == pytest.approx(
        result['gflop_per_image'] / result['time_per_image_s']['median'])
    assert result['utilisation'] == pytest.approx(
        result['achieved_gflops'] / result['matmul_gflops']['median'])
    (run, ) = result['runs']
    assert run['flops_per_iter'] == pytest.approx(
        result['gflop_per_image'] * 1e9)
    assert len(run['iter_times']) == 1 and run['warmup'] == 1
    parts = dict(harness.top_modules(result['gflop_per_image_per_module']))
    assert parts['backbone'] > 0
    if mode == 'infer':
        # forward only: the modules' counts add up to the total (all the work
        # is inside the model); in training FlopCounterMode's attribution of
        # backward work to modules overlaps, so only the total is exact
        assert sum(parts.values()) == pytest.approx(
            result['gflop_per_image'], rel=1e-6)
