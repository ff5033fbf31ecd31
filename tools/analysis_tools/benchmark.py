"""Time, peak memory and achieved GFLOP/s of a segmentor of this project.

    python tools/analysis_tools/benchmark.py CONFIG [CKPT]
        --mode infer|train|tta --shape H W [--batch B] [--repeat N]
        [--warmup K] [--threads T] [--fresh-process] [--json OUT]
        [--infer-api predict|tensor] [--amp] [--fuse-conv-bn] [--no-flops]
        [--profile ROWS] [--cfg-options k=v ...]

The command line of ``benchmarks/harness.py`` for our models, built from
CONFIG: the modes, the memory window and the FLOP count (GFLOP, 2 per
multiply-add, as ``get_flops.py``) are described there and in
``benchmarks/README.md``. Every measurement runs in a fresh subprocess of
this script.
"""
import os.path as osp
import sys

from _benchmarks import import_benchmarks


def main() -> None:
    harness = import_benchmarks('harness')
    harness.main([sys.executable, osp.abspath(__file__)],
                 builder=harness.build_ours)


if __name__ == '__main__':
    main()
