"""tools/analysis_tools/check_dataset.py on generated folder datasets."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from hrformer_seg.datasets.check import median_frequency_weights
from tests.helpers.folder_dataset import (
    CLASSES,
    make_folder_dataset,
    plant_traps,
)
from tests.helpers.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools' / 'analysis_tools' / 'check_dataset.py'


@pytest.fixture(scope='module')
def checker():
    return load_script(TOOL)


@pytest.fixture(scope='module')
def clean(tmp_path_factory):
    return make_folder_dataset(tmp_path_factory.mktemp('clean'))


def test_clean_dataset_passes_with_frequencies(checker, clean, capsys):
    assert checker.main([str(clean), '--num-classes', '3', '--classes',
                         *CLASSES, '--no-progress']) == 0
    out = capsys.readouterr().out
    assert '== train: 4 image/label pairs, 0 errors' in out
    assert '== val: 2 image/label pairs, 0 errors' in out
    for name in CLASSES:
        assert name in out
    assert 'median frequency balancing' in out and 'class_weight=[' in out
    assert 'no errors found' in out


def test_traps_are_named_and_fail(checker, clean, tmp_path, capsys):
    root = tmp_path / 'data'
    shutil.copytree(clean, root)
    traps = plant_traps(root)
    (root / 'annotations' / 'val' / 'orphan.png').write_bytes(
        (root / 'annotations' / 'val' / 'val_0.png').read_bytes())
    cut = root / 'annotations' / 'val' / 'val_1.png'
    cut.write_bytes(cut.read_bytes()[:-30])
    assert checker.main([str(root), '--num-classes', '3',
                         '--no-progress']) == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith('ERROR')]
    by_file = {name: [line for line in lines if str(path) in line]
               for name, path in traps.items()}
    assert 'only the values 0 and 255' in by_file['binary'][0]
    assert '[7]' in by_file['seven'][0]
    assert '60x40' in by_file['small'][0] and '64x48' in by_file['small'][0]
    assert 'image without label map' in by_file['lone'][0]
    assert any('orphan.png: label map without image' in line
               for line in lines)
    assert any(str(cut) in line and 'truncated' in line for line in lines)
    assert '6 errors found' in out
    # the train split alone; no class count: values are not checked
    assert checker.main([str(root), '--split', 'train',
                         '--no-progress']) == 1
    out = capsys.readouterr().out
    assert '[7]' not in out and 'binary.png' in out and '== val' not in out


def test_colour_mask_and_empty_class(checker, clean, tmp_path, capsys):
    import cv2
    root = tmp_path / 'data'
    shutil.copytree(clean, root)
    mask = root / 'annotations' / 'train' / 'train_0.png'
    label = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(mask), np.stack([label] * 3, -1))
    assert checker.main([str(root), '--num-classes', '4', '--split', 'train',
                         '--no-progress']) == 1
    out = capsys.readouterr().out
    assert f'{mask} has shape (48, 64, 3)' in out
    assert 'WARNING classes [3] have no pixel in the train split' in out


def test_config_instead_of_a_folder(checker, clean, tmp_path, capsys):
    config = tmp_path / 'mine.py'
    config.write_text(
        f"_base_ = ['{ROOT}/configs/hrformer/ocrnet_hrformer-s_custom.py']\n"
        f"data_root = '{clean}'\n"
        f"metainfo = dict(classes={CLASSES[:2]!r})\n"
        "train_dataloader = dict(dataset=dict(data_root=data_root, "
        "metainfo=metainfo))\n"
        "val_dataloader = dict(dataset=dict(data_root=data_root, "
        "metainfo=metainfo))\n")
    # two classes in the config: the bars (value 2) are reported
    assert checker.main([str(config), '--no-progress']) == 1
    out = capsys.readouterr().out
    assert 'values [2]' in out and '2 classes' in out


def test_median_frequency_weights():
    pixels = np.array([80, 10, 10, 0])
    image_pixels = np.array([100, 100, 20, 0])
    # freq = 0.8, 0.1, 0.5; median 0.5
    assert np.allclose(median_frequency_weights(pixels, image_pixels),
                       [0.625, 5.0, 1.0, 0.0])
