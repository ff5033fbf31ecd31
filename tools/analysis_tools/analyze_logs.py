"""Plot training curves (loss, learning rate, mIoU, ...) from mmengine logs.

    python tools/analysis_tools/analyze_logs.py LOG [LOG ...]
        [--keys loss lr mIoU] [--out curves.png] [--legend run1 run2]
        [--title TITLE]

A LOG is a json log written by mmengine's LoggerHook
(``<work_dir>/<timestamp>/vis_data/<timestamp>.json`` or ``scalars.json``;
one json dict per line with a ``step``), or a work directory: every run
found in it (``*/vis_data/<timestamp>.json``, sorted by time) is read, so a
resumed training shows as one curve; where runs overlap the later one wins.
Training lines carry ``loss``, ``lr``, ``decode.loss_ce``...; validation
lines ``mIoU``, ``aAcc``, ``mAcc`` at the training iteration they ran at.
One panel per key; the x axis is the iteration.
"""
import argparse
import glob
import json
import os.path as osp
import re
from typing import Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

Curve = Tuple[List[int], List[float]]
_TIMESTAMP_JSON = re.compile(r'^\d{8}_\d{6}\.json$')


def find_log_files(path: str) -> List[str]:
    """The json logs of a file or a work directory, oldest run first.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no json log.
    """
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'log file or directory not found: {path}')
    found = []
    for vis_data in sorted(glob.glob(osp.join(path, '**', 'vis_data'),
                                     recursive=True)):
        names = sorted(glob.glob(osp.join(vis_data, '*.json')))
        stamped = [n for n in names if _TIMESTAMP_JSON.match(osp.basename(n))]
        found.extend(stamped or [n for n in names
                                 if osp.basename(n) == 'scalars.json'])
    if not found:
        raise FileNotFoundError(
            f'no json log under {path} (expected */vis_data/<timestamp>.json '
            'or scalars.json written by mmengine\'s LoggerHook)')
    return sorted(found, key=lambda p: (osp.basename(osp.dirname(
        osp.dirname(p))), p))


def load_curves(paths: Sequence[str]) -> Dict[str, Curve]:
    """Read json logs into ``{key: (steps, values)}`` sorted by step.

    Args:
        paths: json log files, oldest first (a later file overrides the
            values of an earlier one at the same step).

    Raises:
        ValueError: a line that is not json, naming the file and line.
    """
    values: Dict[str, Dict[int, float]] = {}
    for path in paths:
        with open(path, encoding='utf-8') as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f'{path}:{number} is not a json line: {err}') from err
                step = record.get('step', record.get('iter'))
                if step is None:
                    continue
                for key, value in record.items():
                    if key in ('step', 'iter', 'epoch'):
                        continue
                    if isinstance(value, (int, float)) and not isinstance(
                            value, bool):
                        values.setdefault(key, {})[int(step)] = float(value)
    return {
        key: ([s for s in sorted(points)], [points[s] for s in sorted(points)])
        for key, points in values.items()
    }


def plot_curves(runs: Sequence[Dict[str, Curve]], keys: Sequence[str],
                labels: Sequence[str], out_file: str, title: str = '') -> None:
    """One panel per key, one line per run, written to ``out_file``.

    Raises:
        KeyError: a key that no run logged, listing the keys there are.
    """
    available = sorted(set().union(*[run.keys() for run in runs]))
    missing = [k for k in keys if not any(k in run for run in runs)]
    if missing:
        raise KeyError(f'keys {missing} are not in the logs; logged keys: '
                       f'{available}')
    fig, axes = plt.subplots(
        len(keys), 1, figsize=(8, 2.6 * len(keys)), squeeze=False,
        sharex=True)
    for ax, key in zip(axes[:, 0], keys):
        for run, label in zip(runs, labels):
            if key not in run:
                continue
            steps, vals = run[key]
            marker = 'o' if len(steps) < 30 else None
            ax.plot(steps, vals, label=label, marker=marker, markersize=3)
        ax.set_ylabel(key)
        ax.grid(True, alpha=0.3)
        if len(runs) > 1:
            ax.legend(fontsize='small')
    axes[-1, 0].set_xlabel('iteration')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot loss / lr / metric curves from mmengine json logs')
    parser.add_argument('logs', nargs='+',
                        help='json log files or work directories')
    parser.add_argument('--keys', nargs='+', default=['loss', 'lr', 'mIoU'],
                        help='logged values to plot (one panel each)')
    parser.add_argument('--legend', nargs='+',
                        help='one name per log (default: the paths)')
    parser.add_argument('--title', default='', help='figure title')
    parser.add_argument('--out', default='curves.png',
                        help='output image (PNG, PDF, SVG)')
    return parser.parse_args(argv)


def main(argv=None) -> List[Dict[str, Curve]]:
    args = parse_args(argv)
    labels = args.legend or list(args.logs)
    if len(labels) != len(args.logs):
        raise ValueError(f'--legend has {len(labels)} names for '
                         f'{len(args.logs)} logs')
    runs = [load_curves(find_log_files(log)) for log in args.logs]
    keys = list(args.keys)
    plot_curves(runs, keys, labels, args.out, args.title)
    for label, run in zip(labels, runs):
        for key in keys:
            if key in run:
                steps, vals = run[key]
                print(f'{label}: {key}: {len(vals)} points, last '
                      f'{vals[-1]:.6g} (iter {steps[-1]}), min '
                      f'{min(vals):.6g}, max {max(vals):.6g}')
    print(f'curves written to {args.out}')
    return runs


if __name__ == '__main__':
    main()
