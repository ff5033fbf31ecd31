"""A released-model config end to end: an official-layout HRFormer-S + OCR
ADE20K checkpoint (random weights at the real shapes) converted by the tool,
then tools/test.py with and without --tta on a tiny ADE20K tree."""
import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers.official_weights import SMALL, official_ocrnet
from tests.tools.test_train_test import ROOT, _miou, run

CONFIG = ROOT / 'configs/hrformer/official/ocrnet_hrformer-s_ade20k.py'


@pytest.mark.slow
def test_converted_ade20k_model_through_test_tool(tmp_path):
    src, ckpt = tmp_path / 'hrt_small_ocr_ade20k.pth', tmp_path / 'ours.pth'
    torch.save({'config_dict': {'network': {'model_name': 'hrt_small_ocr_v2'}},
                'state_dict': official_ocrnet(SMALL, mid=512, key=256,
                                              classes=150)}, src)
    out = run([ROOT / 'tools/model_converters/convert_hrformer.py', src,
               ckpt], cwd=tmp_path)
    assert 'small, window 7, 150 classes' in out

    root = tmp_path / 'ADEChallengeData2016'
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(((60, 84), (75, 50))):  # odd sizes on purpose
        stem = f'ADE_val_0000000{i + 1}'
        (root / 'images/validation').mkdir(parents=True, exist_ok=True)
        (root / 'annotations/validation').mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)).save(
            root / 'images/validation' / f'{stem}.jpg')
        Image.fromarray(rng.integers(0, 151, (h, w), np.uint8)).save(
            root / 'annotations/validation' / f'{stem}.png')
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={root}',
               'test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False']
    for extra in ([], ['--tta']):
        out = run([ROOT / 'tools/test.py', CONFIG, ckpt, '--work-dir',
                   tmp_path / 'test', *extra, *options], cwd=tmp_path)
        assert 0.0 <= _miou(out) <= 100.0
