"""Official HRFormer + OCR segmentation checkpoints -> our layout.

The official state dict is written out here from the official key layout
(github HRNet/HRFormer, seg/lib/models/nets/hrt.py and the OCR modules it
uses) with random values; the tests check that every entry is used, lands
where it belongs and that the folded biases give the official function."""
import runpy
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from hrformer_seg.apis import init_model
from hrformer_seg.models.utils import (
    convert_official_ocrnet,
    describe_official_ocrnet,
    fold_conv_bias_into_bn,
    is_official_ocrnet,
)
from hrformer_seg.registry import MODELS
from hrformer_seg.utils.checkpoint import CheckpointError
from tests.helpers.official_weights import NARROW, official_ocrnet

REPO = Path(__file__).resolve().parents[3]

OFFICIAL_DIR = REPO / 'configs' / 'hrformer' / 'official'
K = 5  # classes
MID, KEY = 16, 8  # head width and key channels of the narrow model


def narrow_model_cfg(window: int = 7) -> dict:
    cfg = Config.fromfile(str(OFFICIAL_DIR / 'ocrnet_hrformer-s_ade20k.py'))
    model = cfg.model
    model.backbone.update(
        num_channels=NARROW['channels'], num_heads=NARROW['heads'],
        num_modules=NARROW['modules'], window_sizes=window,
        norm_cfg=dict(type='BN'))
    for head in model.decode_head.values():
        head.update(in_channels=list(NARROW['channels'][-1]), channels=MID,
                    num_classes=K, norm_cfg=dict(type='BN'))
    model.decode_head.ocr.ocr_channels = KEY
    return cfg


@pytest.fixture(scope='module')
def official():
    return official_ocrnet()


def test_every_entry_lands_where_it_belongs(official):
    assert is_official_ocrnet(official)
    ours = convert_official_ocrnet(official)
    model = MODELS.build(narrow_model_cfg().model)
    model.load_state_dict(ours, strict=True)
    raw = {k[len('module.'):]: v for k, v in official.items()}
    block = 'decode_head.1.object_context_block'
    expected = {
        'decode_head.0.convs.0.conv.weight': 'aux_head.0.weight',
        'decode_head.0.convs.0.bn.weight': 'aux_head.1.0.weight',
        'decode_head.0.conv_seg.bias': 'aux_head.2.bias',
        'decode_head.1.bottleneck.conv.weight': 'conv3x3.0.weight',
        f'{block}.query_project.1.conv.weight':
        'ocr_distri_head.object_context_block.f_pixel.2.weight',
        f'{block}.key_project.0.bn.running_var':
        'ocr_distri_head.object_context_block.f_object.1.0.running_var',
        f'{block}.value_project.conv.weight':
        'ocr_distri_head.object_context_block.f_down.0.weight',
        f'{block}.out_project.bn.bias':
        'ocr_distri_head.object_context_block.f_up.1.0.bias',
        f'{block}.bottleneck.conv.weight':
        'ocr_distri_head.conv_bn_dropout.0.weight',
        'decode_head.1.conv_seg.weight': 'cls_head.weight',
        'backbone.stage3.0.branches.2.1.attn.proj.weight':
        'backbone.stage3.0.branches.2.1.attn.attn.out_proj.weight',
    }
    for ours_key, official_key in expected.items():
        assert torch.equal(ours[ours_key], raw[official_key]), ours_key
    # the conv biases before a BN went into that BN's running mean
    for conv, bn, mine in (('aux_head.0', 'aux_head.1.0',
                            'decode_head.0.convs.0.bn'),
                           ('conv3x3.0', 'conv3x3.1.0',
                            'decode_head.1.bottleneck.bn')):
        assert torch.equal(ours[f'{mine}.running_mean'],
                           raw[f'{bn}.running_mean'] - raw[f'{conv}.bias'])
    # the narrow test model is neither HRFormer-S nor -B
    assert describe_official_ocrnet(ours) == dict(
        arch='8 channels', window_size=7, num_classes=K)


def test_describe_reads_arch_window_and_classes():
    ours = {'backbone.stage2.0.branches.0.0.norm1.weight': torch.zeros(78),
            'backbone.stage2.0.branches.0.0.attn.relative_position_bias_table':
            torch.zeros(29**2, 2),
            'decode_head.1.conv_seg.weight': torch.zeros(150, 512, 1, 1)}
    assert describe_official_ocrnet(ours) == dict(
        arch='base', window_size=15, num_classes=150)


def test_folded_bias_is_the_same_function():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 1, bias=True)
    bn = nn.BatchNorm2d(3).eval()
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 2, 4, 4)
    expected = bn(conv(x))
    folded_conv = nn.Conv2d(2, 3, 1, bias=False)
    folded_conv.weight.data.copy_(conv.weight.data)
    folded_bn = nn.BatchNorm2d(3).eval()
    folded_bn.load_state_dict(bn.state_dict())
    folded_bn.running_mean.copy_(
        fold_conv_bias_into_bn(conv.bias.data, bn.running_mean))
    torch.testing.assert_close(folded_bn(folded_conv(x)), expected)
    # by hand: one channel, z = 2, bias 1, mean 0.5, var 4 -> (3 - .5) / 2
    mean = fold_conv_bias_into_bn(torch.tensor([1.0]), torch.tensor([0.5]))
    assert mean.item() == -0.5 and (2 - mean.item()) / 4**0.5 == 1.25


def test_align_corners_true_resize_by_hand():
    """A 2x2 branch resized to 4x4 with align_corners=True puts the
    corners on the corners and spaces the rest evenly."""
    from hrformer_seg.models.decode_heads import FCNHead
    head = FCNHead(in_channels=[1, 1], in_index=(0, 1), channels=2,
                   num_classes=2, num_convs=0, concat_input=False,
                   input_transform='resize_concat', align_corners=True)
    low = torch.tensor([[[[0.0, 3.0], [6.0, 9.0]]]])
    merged = head._transform_inputs([torch.zeros(1, 1, 4, 4), low])
    torch.testing.assert_close(merged[0, 1], torch.tensor(
        [[0.0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]))
    head.align_corners = False  # half-pixel centres: 0, .75, 2.25, 3
    merged = head._transform_inputs([torch.zeros(1, 1, 4, 4), low])
    torch.testing.assert_close(merged[0, 1, 0],
                               torch.tensor([0.0, 0.75, 2.25, 3.0]))


def test_unexpected_and_missing_entries_are_named(official):
    extra = OrderedDict(official)
    extra['module.cls_head.extra'] = torch.zeros(1)
    with pytest.raises(KeyError, match='unexpected entry cls_head.extra'):
        convert_official_ocrnet(extra)
    missing = OrderedDict(official)
    del missing['module.conv3x3.1.0.running_var']
    with pytest.raises(KeyError, match='conv3x3.1.0.running_var'):
        convert_official_ocrnet(missing)


def test_official_function_is_computed(official):
    """Our converted model against the official computation written out
    with torch ops (the heads; the backbone is covered by its own tests)."""
    ours = convert_official_ocrnet(official)
    model = MODELS.build(narrow_model_cfg().model).eval()
    model.load_state_dict(ours, strict=True)
    raw = {k[len('module.'):]: v for k, v in official.items()}

    def conv_bn_relu(x, conv, bn, padding=0):
        x = F.conv2d(x, raw[f'{conv}.weight'], raw.get(f'{conv}.bias'),
                     padding=padding)
        x = F.batch_norm(x, raw[f'{bn}.running_mean'],
                         raw[f'{bn}.running_var'], raw[f'{bn}.weight'],
                         raw[f'{bn}.bias'], False, 0.0, 1e-5)
        return F.relu(x)

    x = torch.randn(1, 3, 50, 70)
    with torch.no_grad():
        feats = model.backbone(x)
        h, w = feats[0].shape[2:]
        cat = torch.cat([feats[0]] + [
            F.interpolate(f, size=(h, w), mode='bilinear', align_corners=True)
            for f in feats[1:]], 1)
        aux = F.conv2d(conv_bn_relu(cat, 'aux_head.0', 'aux_head.1.0', 1),
                       raw['aux_head.2.weight'], raw['aux_head.2.bias'])
        pix = conv_bn_relu(cat, 'conv3x3.0', 'conv3x3.1.0', 1)
        n, c = pix.shape[:2]
        probs = F.softmax(aux.reshape(n, K, -1), dim=2)
        regions = torch.bmm(probs, pix.reshape(n, c, -1).transpose(1, 2))
        regions = regions.transpose(1, 2).unsqueeze(3)
        b = 'ocr_distri_head.object_context_block'

        def two(t, name):
            t = conv_bn_relu(t, f'{b}.{name}.0', f'{b}.{name}.1.0')
            return conv_bn_relu(t, f'{b}.{name}.2', f'{b}.{name}.3.0')

        q = two(pix, 'f_pixel').reshape(n, KEY, -1).transpose(1, 2)
        k = two(regions, 'f_object').reshape(n, KEY, -1)
        v = conv_bn_relu(regions, f'{b}.f_down.0', f'{b}.f_down.1.0')
        v = v.reshape(n, KEY, -1).transpose(1, 2)
        sim = F.softmax(torch.bmm(q, k) * KEY**-0.5, dim=-1)
        ctx = torch.bmm(sim, v).transpose(1, 2).reshape(n, KEY, h, w)
        ctx = conv_bn_relu(ctx, f'{b}.f_up.0', f'{b}.f_up.1.0')
        fused = conv_bn_relu(torch.cat([ctx, pix], 1),
                             'ocr_distri_head.conv_bn_dropout.0',
                             'ocr_distri_head.conv_bn_dropout.1.0')
        out = F.conv2d(fused, raw['cls_head.weight'], raw['cls_head.bias'])
        expected = F.interpolate(out, size=x.shape[2:], mode='bilinear',
                                 align_corners=True)
        got = model(x, mode='tensor')  # at the head's size
        upsampled = model.decode_head[1].predict_by_feat(got, x.shape[2:])
    # random weights give logits of very different magnitudes: compare
    # relative to the whole map, and the predicted classes
    for ours_out, official_out in ((got, out), (upsampled, expected)):
        error = (ours_out - official_out).norm() / official_out.norm()
        assert error < 1e-5, error
        agree = (ours_out.argmax(1) == official_out.argmax(1)).float().mean()
        assert agree > 0.999, agree


def test_converter_script_and_init_model(tmp_path, monkeypatch):
    src, dst = tmp_path / 'official.pth', tmp_path / 'out' / 'ours.pth'
    torch.save({'config_dict': {'network': {'model_name': 'hrt_small_ocr'}},
                'state_dict': official_ocrnet()}, src)
    monkeypatch.setattr('sys.argv', ['convert_hrformer.py', str(src),
                                     str(dst)])
    runpy.run_path(
        str(REPO / 'tools/model_converters/convert_hrformer.py'),
        run_name='__main__')
    cfg = narrow_model_cfg()
    model = init_model(cfg, str(dst), device='cpu')
    assert model.decode_head[1].conv_seg.out_channels == K
    # no classes in a converted file: the config's dataset has 150, the
    # narrow model 5
    assert model.dataset_meta['classes'][:2] == ['class 0', 'class 1']
    cfg.model.decode_head.fcn.num_classes = 150
    cfg.model.decode_head.ocr.num_classes = 150
    model = init_model(cfg, None, device='cpu')
    assert model.dataset_meta['classes'][:2] == ['wall', 'building']
    assert len(model.dataset_meta['palette']) == 150


def test_fine_tuning_to_another_class_count(tmp_path):
    """load_from a converted K-class model into a 3-class one: everything
    but the two classifiers loads; the log names the skipped keys."""
    from mmengine.logging import MMLogger
    from mmengine.runner import load_checkpoint
    path = tmp_path / 'ours.pth'
    converted = convert_official_ocrnet(official_ocrnet())
    torch.save({'state_dict': converted}, path)
    cfg = narrow_model_cfg()
    for head in cfg.model.decode_head.values():
        head.num_classes = 3
    model = MODELS.build(cfg.model)
    before = model.decode_head[1].conv_seg.weight.clone()
    logger = MMLogger.get_instance('fine_tune', log_file=str(tmp_path / 'l'))
    load_checkpoint(model, str(path), strict=False, logger=logger)
    for handler in logger.handlers:
        handler.flush()
    log = (tmp_path / 'l').read_text()
    for key in ('decode_head.0.conv_seg.weight',
                'decode_head.1.conv_seg.bias'):
        assert f'size mismatch for {key}' in log
    assert torch.equal(model.decode_head[1].conv_seg.weight, before)
    ours = model.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in converted.items()
               if 'conv_seg' not in k)


def test_converter_script_names_file_and_key(tmp_path, monkeypatch):
    src = tmp_path / 'other.pth'
    torch.save({'state_dict': {'encoder.weight': torch.zeros(1)}}, src)
    monkeypatch.setattr('sys.argv', ['convert_hrformer.py', str(src),
                                     str(tmp_path / 'out.pth')])
    with pytest.raises(CheckpointError, match='other.pth.*encoder.weight'):
        runpy.run_path(
            str(REPO / 'tools/model_converters/convert_hrformer.py'),
            run_name='__main__')
    assert not (tmp_path / 'out.pth').exists()


BASE = dict(
    channels=((78, 156), (78, 156, 312), (78, 156, 312, 624)),
    heads=((2, 4), (2, 4, 8), (2, 4, 8, 16)),
    modules=(1, 4, 2))


@pytest.mark.parametrize('config, window, classes', [
    ('ocrnet_hrformer-b_cityscapes.py', 7, 19),
    ('ocrnet_hrformer-b-w13_ade20k.py', 13, 150),
    ('ocrnet_hrformer-b-w15_coco-stuff.py', 15, 171),
])
def test_released_base_models_map_every_weight(config, window, classes):
    """Full-size official HRFormer-B + OCR state dicts convert into the
    released-model configs with every entry used and every shape equal."""
    official = official_ocrnet(BASE, window=window, mid=512, key=256,
                               classes=classes)
    ours = convert_official_ocrnet(official)
    assert describe_official_ocrnet(ours) == dict(
        arch='base', window_size=window, num_classes=classes)
    cfg = Config.fromfile(str(OFFICIAL_DIR / config))
    for part in (cfg.model.backbone, *cfg.model.decode_head.values()):
        part.norm_cfg = dict(type='BN', requires_grad=True)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.load_state_dict(ours, strict=True)
