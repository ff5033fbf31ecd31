"""Helpers shared by the tests, imported as ``tests.helpers.<module>``.

``tests`` is a namespace package reached through the repository root, which
``[tool:pytest] pythonpath = .`` in setup.cfg puts on the import path; the
subprocesses the tests start get it through ``PYTHONPATH``
(:func:`tests.helpers.engine_runs.subprocess_env`).

- :mod:`~tests.helpers.scripts`: :func:`load_script`, a script of demo/ or
  tools/ imported by its path.
- :mod:`~tests.helpers.tiny_hrformer`: small HRFormer settings and models.
- ``tiny_ocrnet_config.py``: a config of a very small HRFormer + OCR, for the
  tools and the inference API.
- :mod:`~tests.helpers.segmentors`: a stand-in backbone and head configs for
  the segmentor tests.
- :mod:`~tests.helpers.toy_engine`: the toy model, dataset, transforms and
  hooks of the engine tests; ``toy_config.py``: the config training them.
- :mod:`~tests.helpers.engine_runs`: tools/train.py run on the toy config, in
  this process or in a subprocess.
"""
