"""Own data end to end: a 3-class folder dataset, fine-tuned from a
19-class checkpoint with tools/train.py, tested with --tta, published as a
bundle and run with SegInferencer."""
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from hrformer_seg.apis import SegInferencer, init_model
from hrformer_seg.registry import MODELS
from hrformer_seg.utils import resolve_num_classes
from hrformer_seg.utils.device import replace_syncbn
from tests.helpers.folder_dataset import CLASSES, make_folder_dataset

ROOT = Path(__file__).resolve().parents[2]
TINY_CFG = ROOT / 'tests' / 'helpers' / 'tiny_ocrnet_config.py'

pytestmark = pytest.mark.slow

# the user's config (README "Train on your own data") with a tiny model,
# 32x32 crops and single-process loading, for a quick CPU run
USER_CONFIG = '''
_base_ = ['{root}/configs/hrformer/ocrnet_hrformer-s_custom.py']
data_root = '{data}'
metainfo = dict(classes={classes!r})
# -- tiny and quick: not needed on real data --
crop_size = (32, 32)
tiny = {tiny!r}
model = dict(data_preprocessor=dict(size=crop_size),
             backbone=dict(init_cfg=None, drop_path_rate=0.0,
                           **tiny['backbone']),
             decode_head=tiny['decode_head'])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', num_classes=None),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', num_classes=None),
    dict(type='PackSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale_factor=r, keep_ratio=True)
         for r in (0.75, 1.0)],
        [dict(type='RandomFlip', prob=p, direction='horizontal')
         for p in (0.0, 1.0)],
        [dict(type='LoadAnnotations', num_classes=None)],
        [dict(type='PackSegInputs')]])]
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(batch_size=2, **loader, dataset=dict(
    data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(**loader, dataset=dict(
    data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=3, val_interval=3)
default_hooks = dict(checkpoint=dict(interval=3, save_best=None),
                     logger=dict(interval=1))
'''


def run(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True,
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{args} failed:\n{out[-4000:]}'
    return out


def tiny_parts() -> dict:
    tiny = Config.fromfile(str(TINY_CFG)).model
    backbone = {k: tiny.backbone[k] for k in (
        'stem_channels', 'bottleneck_planes', 'num_bottlenecks',
        'num_modules', 'num_blocks', 'num_channels', 'num_heads')}
    heads = {name: {k: tiny.decode_head[name][k] for k in (
        'in_channels', 'channels', 'ocr_channels') if k in
        tiny.decode_head[name]} for name in ('fcn', 'ocr')}
    return dict(backbone=backbone, decode_head=heads)


def test_fine_tune_test_publish_and_infer(tmp_path):
    data = make_folder_dataset(tmp_path / 'my_dataset')
    config = tmp_path / 'my_config.py'
    config.write_text(USER_CONFIG.format(root=ROOT, data=data,
                                         classes=CLASSES, tiny=tiny_parts()))
    # a 19-class checkpoint of the same architecture (a Cityscapes model)
    cfg = Config.fromfile(str(config))
    assert resolve_num_classes(cfg) == 3
    for head in cfg.model.decode_head.values():
        head.num_classes = 19
    replace_syncbn(cfg.model, 'model', [])
    init_default_scope('hrformer_seg')
    cityscapes = MODELS.build(cfg.model)
    ckpt19 = tmp_path / 'cityscapes_19.pth'
    torch.save(dict(state_dict=cityscapes.state_dict()), ckpt19)

    work = tmp_path / 'work'
    out = run([ROOT / 'tools/train.py', config, '--work-dir', work,
               '--cfg-options', f'load_from={ckpt19}'], cwd=tmp_path)
    message = re.search(r'load_from .*cityscapes_19.pth: (\d+) weights have '
                        r'another shape', out)
    assert message and message.group(1) == '4', out[-3000:]
    for key in ('decode_head.0.conv_seg.weight',
                'decode_head.1.conv_seg.bias'):
        assert f'{key}: checkpoint (19' in out
    assert 'size mismatch' not in out
    ckpt = work / 'iter_3.pth'
    weights = torch.load(ckpt, weights_only=True)['state_dict']
    backbone_key = next(k for k in weights if k.startswith('backbone.'))
    assert weights['decode_head.1.conv_seg.weight'].shape[0] == 3
    assert backbone_key in cityscapes.state_dict()

    out = run([ROOT / 'tools/test.py', config, ckpt, '--tta', '--work-dir',
               work / 'test_tta', '--show-dir', work / 'vis'], cwd=tmp_path)
    assert 'mIoU' in out and all(name in out for name in CLASSES)
    assert len(list((work / 'vis').rglob('*.png'))) == 2

    bundle = tmp_path / 'bundle'
    run([ROOT / 'tools/model_converters/publish_model.py', ckpt, bundle],
        cwd=tmp_path)
    assert {p.name for p in bundle.iterdir()} == {
        'config.py', 'weights.pth', 'classes.json', 'README.md'}
    card = (bundle / 'README.md').read_text()
    assert 'mIoU' in card and 'test_tta' in card and '| 2 | bar |' in card
    model = init_model(str(bundle))
    assert model.dataset_meta['classes'] == list(CLASSES)

    val = data / 'images' / 'val'
    inferencer = SegInferencer(str(bundle), show_progress=False)
    result = inferencer(str(val), batch_size=2, out_dir=str(tmp_path / 'o'))
    images = sorted(val.iterdir())
    assert len(result['predictions']) == len(images) == 2
    for image, pred in zip(images, result['predictions']):
        assert pred.shape == cv2.imread(str(image)).shape[:2]
        assert pred.max() < 3
        written = cv2.imread(str(tmp_path / 'o' / 'pred' / image.name),
                             cv2.IMREAD_UNCHANGED)
        assert (written == pred).all()
        assert (tmp_path / 'o' / 'vis' / image.name).is_file()
