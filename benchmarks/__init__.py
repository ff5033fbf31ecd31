"""Speed, memory and FLOP measurements of our model and of the peer
(mmpose HRFormer-S + MMSegmentation OCR); method and results in
``benchmarks/README.md``.

A package of the repository (not installed with hrformer_seg), run from the
repository root::

    python -m benchmarks.compare ...                            # our venv
    benchmarks/.venv-peer/bin/python -m benchmarks.peer_model ...

- :mod:`benchmarks.harness`: the measuring protocol (subjects, modes,
  worker subprocesses, summaries and tables);
- :mod:`benchmarks.flops`: the FLOP count every tool reports (GFLOP,
  2 per multiply-add);
- :mod:`benchmarks.machine`: matmul rate, other processes' CPU time,
  memory readings.

None of them imports ``hrformer_seg`` at module level: the peer's
environment, where hrformer_seg is not installed, runs them too.
``tools/analysis_tools/benchmark.py`` and ``get_flops.py`` import them from
the checkout they belong to.
"""
