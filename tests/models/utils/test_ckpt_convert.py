"""Official HRFormer checkpoint -> our layout.

The official state dict is generated here from the key layout of the official
code (github HRNet/HRFormer, seg/lib/models/backbones/hrt), written out per
module type, independently of the converter."""
import runpy
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from hrformer_seg.models.backbones import HRFormer
from hrformer_seg.models.utils import (
    convert_official_hrformer,
    is_official_hrformer,
    resize_bias_table,
)
from tests.helpers.official_weights import (
    NARROW,
    SMALL,
    official_hrformer,
)

REPO = Path(__file__).resolve().parents[3]

def narrow_hrformer(**kwargs):
    return HRFormer(
        num_channels=NARROW['channels'],
        num_heads=NARROW['heads'],
        num_modules=NARROW['modules'],
        **kwargs)


@pytest.fixture(scope='module')
def official():
    return official_hrformer(**SMALL)


@pytest.fixture(scope='module')
def small():
    return HRFormer(arch='small')


def test_detects_layout(official, small):
    assert is_official_hrformer(official)
    assert not is_official_hrformer(small.state_dict())


def test_strict_load_and_values(official, small):
    converted = convert_official_hrformer(official)
    small.load_state_dict(converted, strict=True)
    ours = small.state_dict()
    assert not any(k.startswith(('incre_modules', 'downsamp_modules',
                                 'final_layer', 'classifier'))
                   for k in converted)
    assert not any('relative_position_index' in k for k in converted)
    assert not any('.attn.attn.' in k for k in converted)
    for p in ('stage2.0.branches.1.0', 'stage4.1.branches.3.1'):
        a = f'{p}.attn.attn.'
        q, k, v = (official[f'{a}{n}_proj.weight'] for n in 'qkv')
        assert torch.equal(ours[f'{p}.attn.qkv.weight'][:q.shape[0]], q)
        assert torch.equal(ours[f'{p}.attn.qkv.weight'],
                           torch.cat([q, k, v]))
        assert torch.equal(
            ours[f'{p}.attn.qkv.bias'],
            torch.cat([official[f'{a}{n}_proj.bias'] for n in 'qkv']))
        assert torch.equal(ours[f'{p}.attn.proj.weight'],
                           official[f'{a}out_proj.weight'])
        assert torch.equal(ours[f'{p}.attn.proj.bias'],
                           official[f'{a}out_proj.bias'])
        assert torch.equal(ours[f'{p}.attn.relative_position_bias_table'],
                           official[f'{a}relative_position_bias_table'])
    for key in ('conv1.weight', 'layer1.0.downsample.1.running_var',
                'transition1.1.0.0.weight', 'transition3.3.0.1.bias',
                'stage3.2.fuse_layers.2.0.1.2.weight',
                'stage4.0.fuse_layers.0.3.1.running_mean',
                'stage4.1.branches.2.0.mlp.dw3x3.bias',
                'stage2.0.branches.0.1.norm2.weight'):
        assert torch.equal(ours[key], official[key]), key


def test_window_change_resizes_bias_table(official):
    converted = convert_official_hrformer(official, window_size=9)
    model = HRFormer(arch='small', window_sizes=9)
    model.load_state_dict(converted, strict=True)
    key = 'stage4.1.branches.3.1.attn.relative_position_bias_table'
    assert converted[key].shape == (17 * 17, 8)
    # bilinear, align_corners=False: the centre offset (0, 0) maps onto the
    # old centre exactly
    old = official[key.replace('.attn.', '.attn.attn.')]
    assert torch.allclose(converted[key][8 * 17 + 8], old[6 * 13 + 6])


def test_window_per_stage_and_unchanged(official):
    converted = convert_official_hrformer(
        official, window_size=(7, (7, 9, 5), 7))
    model = HRFormer(arch='small', window_sizes=(7, (7, 9, 5), 7))
    model.load_state_dict(converted, strict=True)
    table = 'attn.relative_position_bias_table'
    for key, expected in (('stage3.1.branches.1.0', 17),
                          ('stage3.1.branches.2.1', 9),
                          ('stage3.1.branches.0.0', 13),
                          ('stage4.0.branches.1.0', 13)):
        assert converted[f'{key}.{table}'].shape[0] == expected**2
    # unchanged windows keep the values untouched
    key = f'stage4.0.branches.1.0.{table}'
    assert torch.equal(converted[key],
                       official[key.replace('.attn.', '.attn.attn.')])


def test_resize_bias_table_orientation():
    # a table varying only with the vertical offset dh keeps that property
    heads, side = 2, 5  # window 3
    dh = torch.arange(side, dtype=torch.float).repeat_interleave(side)
    table = torch.stack([dh, 2 * dh], dim=1)
    resized = resize_bias_table(table, 4).reshape(7, 7, heads)
    assert torch.allclose(resized, resized[:, :1].expand(7, 7, heads))
    assert torch.all(resized[1:, 0, 0] >= resized[:-1, 0, 0])
    assert torch.allclose(resized[..., 1], 2 * resized[..., 0])
    # constant tables stay constant
    const = resize_bias_table(torch.full((25, 3), 0.7), 7)
    assert const.shape == (169, 3) and torch.allclose(const,
                                                      torch.tensor(0.7))


def test_incomplete_qkv_raises(official):
    broken = OrderedDict(official)
    del broken['stage2.0.branches.0.0.attn.attn.v_proj.weight']
    with pytest.raises(KeyError, match='stage2.0.branches.0.0.attn.qkv'):
        convert_official_hrformer(broken)


def test_pretrained_init_from_official_file(tmp_path):
    official = official_hrformer(**NARROW)
    path = tmp_path / 'hrt_narrow.pth'
    torch.save({'model': official, 'epoch': 300, 'max_accuracy': 81.2}, path)
    model = narrow_hrformer(
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    ours = model.state_dict()
    assert torch.equal(
        ours['stage2.0.branches.1.0.attn.proj.weight'],
        official['stage2.0.branches.1.0.attn.attn.out_proj.weight'])


def test_converter_script(tmp_path, monkeypatch):
    official = official_hrformer(**NARROW)
    src, dst = tmp_path / 'official.pth', tmp_path / 'out' / 'ours.pth'
    torch.save({'model': official}, src)
    monkeypatch.setattr('sys.argv', [
        'convert_hrformer.py',
        str(src),
        str(dst), '--window-size', '9'
    ])
    runpy.run_path(
        str(REPO / 'tools/model_converters/convert_hrformer.py'),
        run_name='__main__')
    saved = torch.load(dst, weights_only=True)
    assert set(saved) == {'state_dict'}
    narrow_hrformer(window_sizes=9).load_state_dict(
        saved['state_dict'], strict=True)
    assert [p.name for p in dst.parent.iterdir()] == ['ours.pth']
