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

REPO = Path(__file__).resolve().parents[3]

SMALL = dict(
    channels=((32, 64), (32, 64, 128), (32, 64, 128, 256)),
    heads=((1, 2), (1, 2, 4), (1, 2, 4, 8)),
    modules=(1, 4, 2))
# a narrow variant for the file round trips
NARROW = dict(
    channels=((8, 16), (8, 16, 24), (8, 16, 24, 32)),
    heads=((1, 2), (1, 2, 3), (1, 2, 3, 4)),
    modules=(1, 1, 1))


def narrow_hrformer(**kwargs):
    return HRFormer(
        num_channels=NARROW['channels'],
        num_heads=NARROW['heads'],
        num_modules=NARROW['modules'],
        **kwargs)


class OfficialStateDict:
    """Random weights under the official names, built module by module."""

    def __init__(self, seed: int = 0):
        self.sd = OrderedDict()
        self.gen = torch.Generator().manual_seed(seed)

    def tensor(self, key, *shape):
        self.sd[key] = torch.randn(*shape, generator=self.gen)

    def conv(self, prefix, cout, cin, k, bias=False):
        self.tensor(f'{prefix}.weight', cout, cin, k, k)
        if bias:
            self.tensor(f'{prefix}.bias', cout)

    def bn(self, prefix, c):
        self.tensor(f'{prefix}.weight', c)
        self.tensor(f'{prefix}.bias', c)
        self.tensor(f'{prefix}.running_mean', c)
        self.sd[f'{prefix}.running_var'] = torch.rand(
            c, generator=self.gen) + 0.5
        self.sd[f'{prefix}.num_batches_tracked'] = torch.tensor(7)

    def ln(self, prefix, c):
        self.tensor(f'{prefix}.weight', c)
        self.tensor(f'{prefix}.bias', c)

    def linear(self, prefix, cout, cin):
        self.tensor(f'{prefix}.weight', cout, cin)
        self.tensor(f'{prefix}.bias', cout)

    def transformer_block(self, p, c, heads, window):
        self.ln(f'{p}.norm1', c)
        self.ln(f'{p}.norm2', c)
        a = f'{p}.attn.attn'
        self.tensor(f'{a}.relative_position_bias_table', (2 * window - 1)**2,
                    heads)
        self.sd[f'{a}.relative_position_index'] = torch.zeros(
            window**2, window**2, dtype=torch.long)
        for name in ('k_proj', 'v_proj', 'q_proj', 'out_proj'):
            self.linear(f'{a}.{name}', c, c)
        self.conv(f'{p}.mlp.fc1', 4 * c, c, 1, bias=True)
        self.bn(f'{p}.mlp.norm1', 4 * c)
        self.tensor(f'{p}.mlp.dw3x3.weight', 4 * c, 1, 3, 3)
        self.tensor(f'{p}.mlp.dw3x3.bias', 4 * c)
        self.bn(f'{p}.mlp.norm2', 4 * c)
        self.conv(f'{p}.mlp.fc2', c, 4 * c, 1, bias=True)
        self.bn(f'{p}.mlp.norm3', c)

    def fuse(self, p, ch):
        for i in range(len(ch)):
            for j in range(len(ch)):
                if j > i:
                    self.conv(f'{p}.{i}.{j}.0', ch[i], ch[j], 1)
                    self.bn(f'{p}.{i}.{j}.1', ch[i])
                elif j < i:
                    for k in range(i - j):
                        out = ch[i] if k == i - j - 1 else ch[j]
                        self.tensor(f'{p}.{i}.{j}.{k}.0.weight', ch[j], 1, 3,
                                    3)
                        self.bn(f'{p}.{i}.{j}.{k}.1', ch[j])
                        self.conv(f'{p}.{i}.{j}.{k}.2', out, ch[j], 1)
                        self.bn(f'{p}.{i}.{j}.{k}.3', out)

    def classification_head(self):
        self.conv('incre_modules.0.0.conv1', 32, 32, 1)
        self.bn('incre_modules.0.0.bn1', 32)
        self.conv('downsamp_modules.0.0', 128, 1, 3, bias=True)
        self.conv('final_layer.0', 2048, 1024, 1, bias=True)
        self.linear('classifier', 1000, 2048)


def official_hrformer(channels, heads, modules, window=7, head=True):
    o = OfficialStateDict()
    o.conv('conv1', 64, 3, 3)
    o.bn('bn1', 64)
    o.conv('conv2', 64, 64, 3)
    o.bn('bn2', 64)
    for i, cin in enumerate((64, 256)):
        o.conv(f'layer1.{i}.conv1', 64, cin, 1)
        o.bn(f'layer1.{i}.bn1', 64)
        o.conv(f'layer1.{i}.conv2', 64, 64, 3)
        o.bn(f'layer1.{i}.bn2', 64)
        o.conv(f'layer1.{i}.conv3', 256, 64, 1)
        o.bn(f'layer1.{i}.bn3', 256)
    o.conv('layer1.0.downsample.0', 256, 64, 1)
    o.bn('layer1.0.downsample.1', 256)
    # transition1: both branches come from the 256-channel stage-1 output
    o.conv('transition1.0.0', channels[0][0], 256, 3)
    o.bn('transition1.0.1', channels[0][0])
    o.conv('transition1.1.0.0', channels[0][1], 256, 3)
    o.bn('transition1.1.0.1', channels[0][1])
    for t, s in ((2, 1), (3, 2)):  # new branch from the previous last one
        o.conv(f'transition{t}.{s + 1}.0.0', channels[s][-1],
               channels[s - 1][-1], 3)
        o.bn(f'transition{t}.{s + 1}.0.1', channels[s][-1])
    for s in range(3):
        for m in range(modules[s]):
            p = f'stage{s + 2}.{m}'
            for b, (c, h) in enumerate(zip(channels[s], heads[s])):
                for k in range(2):
                    o.transformer_block(f'{p}.branches.{b}.{k}', c, h, window)
            o.fuse(f'{p}.fuse_layers', channels[s])
    if head:
        o.classification_head()
    return o.sd


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
