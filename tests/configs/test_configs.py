"""Every config under configs/ loads, builds its model and runs a tiny
forward."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import hrformer_seg  # noqa: F401
from hrformer_seg.models.layers import WinogradConv2d
from hrformer_seg.models.utils import ActivationMemoryMixin
from hrformer_seg.registry import MODELS
from hrformer_seg.utils import ClassCountError, resolve_num_classes
from hrformer_seg.utils.device import adapt_cfg_to_device

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
LEAF_CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py')
                      if '_base_' not in p.parts)
# the CPU demo, the only config with CPU-only layers
DEMO = 'ocrnet_hrformer-s_demo_cityscapes-like.py'


def test_configs_found():
    # a loop over an empty folder would pass silently
    assert len(LEAF_CONFIGS) >= 3


@pytest.mark.parametrize('path', LEAF_CONFIGS, ids=lambda p: p.name)
def test_config_builds_and_runs(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'hrformer_seg'
    if path.name.endswith('_custom.py'):  # the user names the classes
        with pytest.raises(ClassCountError, match='classes'):
            resolve_num_classes(cfg)
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            cfg[loader].dataset.metainfo = dict(classes=('a', 'b', 'c'))
    # heads, label checks and dataset classes agree
    count = resolve_num_classes(cfg)
    if path.name.endswith('_custom.py'):
        assert count == 3
    adapt_cfg_to_device(cfg)
    model = MODELS.build(cfg.model)
    # the reference computation: nothing recomputed in training, plain
    # convolutions unless the config is the CPU demo
    assert cfg.model.activation_memory == 'full'
    units = [m for m in model.modules()
             if isinstance(m, ActivationMemoryMixin)]
    assert units and {m.activation_memory for m in units} == {'full'}
    winograd = [m for m in model.modules() if isinstance(m, WinogradConv2d)]
    if path.name == DEMO:
        assert winograd and all(isinstance(m.conv, WinogradConv2d)
                   for head in model.decode_head for m in head.modules()
                   if hasattr(m, 'conv'))
    else:
        assert winograd == []
    model.eval()
    num_classes = list(cfg.model.decode_head.values())[-1].num_classes
    assert num_classes == count
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 96), mode='tensor')
    assert logits.shape[:2] == (1, num_classes)
    assert torch.isfinite(logits).all()


def test_syncbn_becomes_bn_without_cuda():
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'hrformer' /
            'ocrnet_hrformer-s_4x2_512x1024_80k_cityscapes.py'))
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    messages = adapt_cfg_to_device(cfg)
    if torch.cuda.is_available():
        assert messages == []
    else:
        assert cfg.model.backbone.norm_cfg.type == 'BN'
        assert cfg.model.decode_head.ocr.norm_cfg.type == 'BN'
        assert any('SyncBN' in m for m in messages)
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_variant_b_overrides_scalars_only():
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'hrformer' /
            'ocrnet_hrformer-b_4x2_512x1024_80k_cityscapes.py'))
    assert cfg.model.backbone.arch == 'base'
    assert cfg.model.backbone.drop_path_rate == 0.4
    heads = cfg.model.decode_head
    assert list(heads.keys()) == ['fcn', 'ocr']
    assert heads.fcn.in_channels == [78, 156, 312, 624]
    assert heads.ocr.in_channels == [78, 156, 312, 624]
    assert heads.fcn.sampler.type == 'OHEMPixelSampler'
    assert heads.ocr.sampler.type == 'OHEMPixelSampler'
    assert heads.fcn.loss_decode.loss_weight == 0.4


def test_class_counts_that_disagree_name_both_keys():
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'hrformer' / 'ocrnet_hrformer-s_custom.py'))
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.metainfo = dict(classes=('a', 'b', 'c'))
    cfg.model.decode_head.ocr.num_classes = 19
    with pytest.raises(ClassCountError) as err:
        resolve_num_classes(cfg)
    message = str(err.value)
    assert 'model.decode_head.ocr.num_classes is 19' in message
    assert 'train_dataloader.dataset has 3 classes' in message
    # the splits must agree with each other too
    cfg.model.decode_head.ocr.num_classes = None
    cfg.val_dataloader.dataset.metainfo = dict(classes=('a', 'b'))
    with pytest.raises(ClassCountError, match='val_dataloader.dataset has 2'):
        resolve_num_classes(cfg)


def test_readme_user_config(tmp_path):
    """The config of README "Train on your own data" loads as written."""
    from hrformer_seg.utils.tool_setup import load_config
    readme = (CONFIG_DIR.parent / 'README.md').read_text()
    start = readme.index("```python\n_base_ = ['./hrformer/") + len(
        '```python\n')
    text = readme[start:readme.index('```', start)]
    assert len(text.strip().splitlines()) <= 10
    path = tmp_path / 'my_dataset.py'
    path.write_text(text.replace("'./hrformer/", f"'{CONFIG_DIR}/hrformer/"))
    cfg = load_config(str(path))
    heads = cfg.model.decode_head
    assert heads.fcn.num_classes == heads.ocr.num_classes == 3
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'FolderSegDataset'
        assert dataset.data_root == 'data/my_dataset'
        assert len(dataset.metainfo.classes) == 3
    steps = [s for s in cfg.tta_pipeline[1].transforms[2]]
    assert steps[0].num_classes == 3
