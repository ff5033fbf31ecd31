"""The command-line tools in tools/dataset_converters."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from hrformer_seg.datasets import CityscapesDataset

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / 'tools' / 'dataset_converters'


def run(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_generate_then_convert_then_load(tmp_path):
    """Three subprocesses (a few seconds each: torch is imported)."""
    root = tmp_path / 'data'
    out = run(TOOLS / 'generate_cityscapes_like.py', root, '--train', 3,
              '--val', 2, '--test', 1, '--height', 64, '--width', 128,
              '--seed', 4, '--nproc', 2, '--no-convert')
    assert "'train': 3" in out
    assert not list(root.rglob('*_labelTrainIds.png'))
    out = run(TOOLS / 'cityscapes.py', root, '--nproc', 2, '-o',
              tmp_path / 'lists')
    assert 'converted 5 annotation files' in out
    assert len(list(root.rglob('*_labelTrainIds.png'))) == 5
    assert (tmp_path / 'lists' / 'train.txt').read_text().count('\n') == 3
    ds = CityscapesDataset(data_root=str(root))
    assert len(ds) == 3
    # labelTrainIds are the labelIds mapped through cityscapesscripts
    from cityscapesscripts.helpers.labels import id2label
    lut = np.full(256, 255, np.uint8)
    for i, lab in id2label.items():
        if i >= 0:
            lut[i] = lab.trainId if lab.trainId >= 0 else 255
    for info in ds.load_data_list():
        train = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
        ids = cv2.imread(info['seg_map_path'].replace('labelTrainIds',
                                                      'labelIds'),
                         cv2.IMREAD_UNCHANGED)
        assert np.array_equal(train, lut[ids])
    # the generator converts by default (rewritten JSON: labels redone)
    out = run(TOOLS / 'generate_cityscapes_like.py', root, '--train', 3,
              '--val', 2, '--height', 64, '--width', 128, '--seed', 4)
    assert 'converted 5 annotation files' in out
