"""Installs hrformer_seg.

mmcv is deliberately not in ``install_requires``: full ``mmcv`` (GPU users,
MMSegmentation stacks that need mmcv < 2.2) and ``mmcv-lite`` (the pure-Python
build used on CPU machines) install the same ``mmcv`` module, and pip cannot
tell that one satisfies the other. ``hrformer_seg/__init__.py`` checks the
installed mmcv version at import time instead; ``requirements.txt`` pins
``mmcv-lite`` for the CPU set-up.
"""
import os.path as osp

from setuptools import find_packages, setup


def get_version() -> str:
    namespace = {}
    version_file = osp.join(osp.dirname(__file__), 'hrformer_seg',
                            'version.py')
    with open(version_file) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='hrformer_seg',
    version=get_version(),
    description='HRFormer + OCR semantic segmentation on mmengine/mmcv',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(
        exclude=('configs', 'tools', 'tests', 'demo', 'benchmarks')),
    # torch 2.5's Python range (torch 2.5 has no Python 3.8 wheels)
    python_requires='>=3.9',
    # torch is left unpinned here so GPU users keep their CUDA build;
    # requirements.txt pins the CPU wheel for the CPU set-up. The floor is
    # the newest torch API the package uses: torch.serialization.safe_globals
    # (2.5; utils/checkpoint.py); activation checkpointing's
    # CheckpointPolicy / create_selective_checkpoint_contexts need 2.4.
    install_requires=[
        'torch>=2.5',
        'mmengine>=0.10.0,<1.0.0',
        'numpy',
        'opencv-python',
        'cityscapesscripts>=2.2',
        'matplotlib',
    ],
    extras_require={
        'tests': ['pytest'],
        'onnx': ['onnx', 'onnxruntime', 'onnxscript'],
        'tensorboard': ['tensorboard'],
    },
    zip_safe=False,
)
