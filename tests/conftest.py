"""Fixtures shared by the test suite."""
from pathlib import Path

import pytest

TINY_SIZE = (64, 128)  # (height, width)
TINY_SPLITS = dict(train=4, val=2, test=1)
TINY_SEED = 3


@pytest.fixture(scope='session')
def tiny_cityscapes(tmp_path_factory) -> Path:
    """A tiny Cityscapes tree with the real layout, ready to train on.

    ``leftImg8bit/{train,val,test}/<city>/*_leftImg8bit.png`` (4 train images
    in 3 cities, 2 val, 1 test; 64x128), ``gtFine/{train,val}/<city>/`` with
    ``*_gtFine_polygons.json``, ``*_gtFine_labelIds.png`` and the converted
    ``*_gtFine_labelTrainIds.png``, and ``train.txt``/``val.txt``/
    ``test.txt``. Generated once per session; treat it as read-only (copy it
    to modify it).
    """
    from hrformer_seg.datasets.cityscapes_convert import convert_cityscapes
    from hrformer_seg.scene_generator import generate_cityscapes_like
    root = tmp_path_factory.mktemp('tiny_cityscapes')
    generate_cityscapes_like(
        str(root), TINY_SPLITS['train'], TINY_SPLITS['val'],
        TINY_SPLITS['test'], height=TINY_SIZE[0], width=TINY_SIZE[1],
        seed=TINY_SEED, show_progress=False)
    convert_cityscapes(str(root), show_progress=False)
    return root


@pytest.fixture(scope='module')
def one_torch_thread():
    """Tiny tensors: one thread is faster, and far faster on a busy machine
    (two threads of tiny ops wait on each other's time slices). Modules opt
    in with ``pytestmark = pytest.mark.usefixtures('one_torch_thread')``."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def data_root(tiny_cityscapes):
    """``tiny_cityscapes`` exported as ``TINY_CITYSCAPES`` for configs that
    read their data root from the environment
    (tests/helpers/tiny_ocrnet_config.py)."""
    import os
    old = os.environ.get('TINY_CITYSCAPES')
    os.environ['TINY_CITYSCAPES'] = str(tiny_cityscapes)
    yield tiny_cityscapes
    if old is None:
        del os.environ['TINY_CITYSCAPES']
    else:
        os.environ['TINY_CITYSCAPES'] = old
