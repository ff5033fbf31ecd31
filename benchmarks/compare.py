"""Ours vs the peer (mmpose HRFormer-S + MMSegmentation OCR), interleaved.

    .venv/bin/python -m benchmarks.compare --mode infer \\
        --shape 1024 2048 --repeat 3 [--iters 1] [--warmup 1] [--json OUT]

(from the repository root).

Every round runs one fresh subprocess of ours (our venv,
``tools/analysis_tools/benchmark.py CONFIG``) and one of the peer (the peer
venv, ``-m benchmarks.peer_model``), alternating which goes first (ABBA...),
so a change of machine load hits both sides. Each subprocess measures the
fp32 matmul rate, builds its model, runs ``--warmup`` untimed iterations,
``--iters`` timed ones and one more under the FLOP counter, and reports the
times and its peak memory (peak RSS on a CPU). Printed: medians over all
timed iterations per side, the ratio ours/peer of the medians, the median of
the per-round ratios, peak memory, counted GFLOP (2 per multiply-add) and
achieved GFLOP/s against the measured matmul rate, parameter counts and the
load averages.

Not a test: it needs the peer environment (``bash
benchmarks/setup_peer_env.sh``) and minutes per round at full size.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
from typing import Any, Dict, List

from . import harness
from .flops import UNIT

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(HERE)

DEFAULT_CONFIG = osp.join(
    ROOT, 'configs', 'hrformer',
    'ocrnet_hrformer-s_4x2_512x1024_80k_cityscapes.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--mode', choices=harness.MODES, default='infer')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        default=None)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--repeat', type=int, default=3,
                        help='rounds (one fresh subprocess per side each)')
    parser.add_argument('--iters', type=int, default=1,
                        help='timed iterations per subprocess')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--infer-api', choices=('predict', 'tensor'),
                        default='predict')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='our config')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='overrides for our config')
    parser.add_argument('--upsample', choices=('nearest', 'bilinear'),
                        default='nearest',
                        help="peer backbone's fusion upsampling (nearest, "
                        'as ours)')
    parser.add_argument('--ours-python',
                        default=osp.join(ROOT, '.venv', 'bin', 'python'))
    parser.add_argument('--peer-python',
                        default=osp.join(HERE, '.venv-peer', 'bin', 'python'))
    parser.add_argument('--fuse-conv-bn', action='store_true',
                        help='ours only: fold BN into convs (infer/tta), as '
                        'tools/test.py --fuse-conv-bn; MMSeg has no such '
                        'option')
    parser.add_argument(
        '--amp', choices=('none', 'ours', 'peer', 'both'), default='none',
        help='which side runs under bf16 autocast (fp16 on CUDA), as '
        'benchmark.py --amp')
    parser.add_argument('--no-flops', action='store_true',
                        help='do not count FLOPs (saves one iteration per '
                        'process)')
    parser.add_argument('--json', default=None)
    args = parser.parse_args()
    if args.shape is None:
        args.shape = list(harness.DEFAULT_SHAPES[args.mode])
    # the sides run in the repository root
    args.config = osp.abspath(args.config)
    for python in (args.ours_python, args.peer_python):
        if not osp.isfile(python):
            raise SystemExit(f'{python} not found (the peer venv is made by '
                             'bash benchmarks/setup_peer_env.sh)')
    return args


def side_command(side: str, args: argparse.Namespace, out: str) -> List[str]:
    common = ['--mode', args.mode, '--shape', *map(str, args.shape),
              '--batch', str(args.batch), '--repeat', str(args.iters),
              '--warmup', str(args.warmup), '--infer-api', args.infer_api,
              '--worker-out', out]
    if args.threads:
        common += ['--threads', str(args.threads)]
    if args.amp in (side, 'both'):
        common.append('--amp')
    if args.no_flops:
        common.append('--no-flops')
    if side == 'ours':
        cmd = [args.ours_python, osp.join(ROOT, 'tools', 'analysis_tools',
                                          'benchmark.py'), args.config,
               *common]
        if args.fuse_conv_bn:
            cmd.append('--fuse-conv-bn')
        if args.cfg_options:
            cmd += ['--cfg-options', *args.cfg_options]
        return cmd
    return [args.peer_python, '-m', 'benchmarks.peer_model', *common,
            '--upsample', args.upsample]


def run_side(side: str, args: argparse.Namespace, tmp: str,
             index: int) -> Dict[str, Any]:
    out = osp.join(tmp, f'{side}{index}.json')
    cmd = side_command(side, args, out)
    print(f'[round {index}] {side}: ' + ' '.join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0 or not osp.isfile(out):
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f'{side} failed (exit {proc.returncode})')
    with open(out) as f:
        result = json.load(f)
    per_image = [t / args.batch for t in result['iter_times']]
    print(f'[round {index}] {side}: '
          + ', '.join(f'{t:.2f} s' for t in per_image)
          + f"; peak {result['peak_memory_mb'] / 1024:.2f} GiB; load "
          f"{result['loadavg_before'][0]:.1f}->"
          f"{result['loadavg_after'][0]:.1f}", flush=True)
    return result


def comparison_table(ours: Dict[str, Any], peer: Dict[str, Any],
                     paired: List[float], args: argparse.Namespace) -> str:
    def cell(stats: Dict[str, float], fmt: str, scale: float = 1) -> str:
        return (f"{stats['median'] * scale:{fmt}} "
                f"[{stats['min'] * scale:{fmt}}-{stats['max'] * scale:{fmt}}]")

    def ratio(a: float, b: float) -> str:
        return f'{a / b:.2f}' if b else '-'

    def median_ratio(key: str) -> str:
        return ratio(ours[key]['median'], peer[key]['median'])

    o, p = ours, peer
    h, w = args.shape
    what = {'infer': f'inference ({args.infer_api}, whole)',
            'tta': 'ms+flip inference', 'train':
            'training step (fwd + bwd + AdamW)'}[args.mode]
    def precision(side: str) -> str:
        amp = getattr(args, 'amp', 'none')
        return 'bf16 autocast' if amp in (side, 'both') else 'fp32'

    rows = [
        f'{what}, input {args.batch}x3x{h}x{w}, {o["device"]}, '
        f'{o["threads"]} threads; {args.repeat} interleaved rounds x '
        f'{args.iters} timed iteration(s) per side',
        f"| | ours ({precision('ours')}) | peer ({precision('peer')}) "
        '| ours/peer |',
        '|---|---|---|---|',
        f"| time per image (s), median [min-max] | "
        f"{cell(o['time_per_image_s'], '.2f')} | "
        f"{cell(p['time_per_image_s'], '.2f')} | "
        f"{median_ratio('time_per_image_s')}"
        f" (paired median {statistics.median(paired):.2f}) |",
        f"| peak memory (GiB, {o['peak_memory_kind']}) | "
        f"{cell(o['peak_memory_mb'], '.2f', 1 / 1024)} | "
        f"{cell(p['peak_memory_mb'], '.2f', 1 / 1024)} | "
        f"{median_ratio('peak_memory_mb')} |",
        f"| counted {UNIT} per image | {o['gflop_per_image']:.1f} | "
        f"{p['gflop_per_image']:.1f} | "
        f"{ratio(o['gflop_per_image'], p['gflop_per_image'])} |",
        f"| achieved GFLOP/s | {o['achieved_gflops']:.1f} | "
        f"{p['achieved_gflops']:.1f} | "
        f"{ratio(o['achieved_gflops'], p['achieved_gflops'])} |",
        f"| fp32 matmul GFLOP/s in the same runs | "
        f"{cell(o['matmul_gflops'], '.0f')} | "
        f"{cell(p['matmul_gflops'], '.0f')} | |",
        f"| achieved / matmul rate | {100 * o['utilisation']:.0f}% | "
        f"{100 * p['utilisation']:.0f}% | |",
        f"| parameters | {o['num_params']:,} | {p['num_params']:,} | |",
    ]
    # FlopCounterMode's attribution of backward work to modules overlaps:
    # per-module counts only for forward-only modes
    for name, s in (('ours', o), ('peer', p)) if args.mode != 'train' else ():
        parts = ', '.join(f'{k} {v:.1f}' for k, v in
                          harness.module_breakdown(
                              s['gflop_per_image_per_module'],
                              s['gflop_per_image']))
        rows.append(f'GFLOP per image by module, {name}: {parts}')
    return '\n'.join(rows)


def main() -> None:
    args = parse_args()
    runs: Dict[str, List[Dict[str, Any]]] = {'ours': [], 'peer': []}
    paired = []
    with tempfile.TemporaryDirectory(prefix='compare_') as tmp:
        for index in range(args.repeat):
            order = ('ours', 'peer') if index % 2 == 0 else ('peer', 'ours')
            round_times = {}
            for side in order:
                result = run_side(side, args, tmp, index)
                runs[side].append(result)
                round_times[side] = statistics.median(result['iter_times'])
            paired.append(round_times['ours'] / round_times['peer'])
    ours = harness.summarize(runs['ours'])
    peer = harness.summarize(runs['peer'])
    print()
    print(comparison_table(ours, peer, paired, args))
    loads = [r['loadavg_before'][0] for side in runs.values() for r in side]
    others = [r['other_cores_busy'] for side in runs.values() for r in side]
    print('load average (1 min) at the start of each run: '
          + ' '.join(f'{x:.1f}' for x in loads)
          + f' (machine has {os.cpu_count()} cores; our own previous run '
          'counts in it)')
    print('cores busy with other processes while timing, per run: '
          + ' '.join(f'{x:.2f}' for x in others))
    busy = max(others) > 0.25
    if busy:
        print('WARNING: the machine was busy during these runs; the times '
              'and ratios are not those of an idle machine')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), ours=ours, peer=peer,
                           paired_time_ratios=paired, busy=busy), f,
                      indent=1)


if __name__ == '__main__':
    main()
