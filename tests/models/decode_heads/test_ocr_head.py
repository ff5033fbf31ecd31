"""OCR head: spatial gather and object attention on hand-checkable cases."""
import math

import pytest
import torch
import torch.nn as nn

from hrformer_seg.models.decode_heads import (
    ObjectAttentionBlock,
    OCRHead,
    SpatialGather,
)
from hrformer_seg.models.layers import SplitConcatConv


def test_spatial_gather_one_hot_regions_give_region_means():
    # 2x3 image, 2 channels; region 0 = left column + top-middle, region 1 =
    # the rest; huge logits make the pixel softmax uniform on each region
    feats = torch.tensor([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
                          [[10.0, 0.0, 0.0], [0.0, 0.0, -4.0]]]).unsqueeze(0)
    member = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    onehot = torch.stack([member, ~member]).float().unsqueeze(0)
    logits = (onehot - 1) * 1e4  # 0 inside the region, -1e4 outside
    regions = SpatialGather()(feats, logits)
    assert regions.shape == (1, 2, 2, 1)
    # region 0 pixels: (0,0), (0,1), (1,0)
    assert regions[0, :, 0, 0].tolist() == pytest.approx(
        [(1 + 2 + 4) / 3, (10 + 0 + 0) / 3])
    # region 1 pixels: (0,2), (1,1), (1,2)
    assert regions[0, :, 1, 0].tolist() == pytest.approx(
        [(3 + 5 + 6) / 3, (0 + 0 - 4) / 3])


def test_spatial_gather_softmax_is_over_pixels_with_scale():
    feats = torch.tensor([1.0, 3.0]).reshape(1, 1, 1, 2)
    logits = torch.tensor([0.0, math.log(3.0)]).reshape(1, 1, 1, 2)
    # weights 1/4 and 3/4 -> 2.5; with scale 2: 1/10 and 9/10 -> 2.8
    assert SpatialGather()(feats, logits).item() == pytest.approx(2.5)
    assert SpatialGather(scale=2.0)(feats, logits).item() == pytest.approx(2.8)
    with pytest.raises(ValueError, match='differ in size'):
        SpatialGather()(feats, logits[..., :1])


def _identity_block(channels):
    """Object attention with identity 1x1 convs, no norm and no activation."""
    block = ObjectAttentionBlock(channels, channels, norm_cfg=None,
                                 act_cfg=None)
    for module in block.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.zeros_(module.bias)
            eye = torch.eye(module.out_channels, module.in_channels)
            module.weight.data.copy_(eye.reshape(module.weight.shape))
    return block


def test_object_attention_by_hand():
    block = _identity_block(2)
    # one pixel p = (1, 0), two regions r0 = (2, 0), r1 = (0, 2)
    feats = torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1)
    regions = torch.tensor([[2.0, 0.0], [0.0, 2.0]]).t().reshape(1, 2, 2, 1)
    # similarities p.r0 = 2, p.r1 = 0, scaled by 2^-0.5
    a0 = math.exp(2 / math.sqrt(2))
    w0, w1 = a0 / (a0 + 1), 1 / (a0 + 1)
    context = [2 * w0, 2 * w1]
    got = block.object_context(feats, regions).flatten().tolist()
    assert got == pytest.approx(context, rel=1e-6)
    # the fusion conv on [context, pixel] with weight [I, I] adds them
    fuse = block.bottleneck.conv
    fuse.weight.data.copy_(torch.cat([torch.eye(2), torch.eye(2)],
                                     dim=1).reshape(fuse.weight.shape))
    out = block(feats, regions).flatten().tolist()
    assert out == pytest.approx([context[0] + 1, context[1]], rel=1e-6)


def test_object_attention_uses_key_channel_scaling():
    block = _identity_block(4)
    feats = torch.tensor([1.0, 0.0, 0.0, 0.0]).reshape(1, 4, 1, 1)
    regions = torch.zeros(1, 4, 2, 1)
    regions[0, 0, 0, 0] = 3.0  # r0 = 3 e0, r1 = 0
    a0 = math.exp(3 / math.sqrt(4))
    expected = 3 * a0 / (a0 + 1)
    got = block.object_context(feats, regions)[0, 0, 0, 0].item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_fusion_is_a_split_concat_conv_with_the_block_settings():
    """The fusion of [context, feats] is the ConvModule on the
    concatenation computed by halves (tested against it in
    tests/models/layers/test_split_concat_conv.py), built from the block's
    conv/norm/act configs, with the ConvModule's state dict keys."""
    block = ObjectAttentionBlock(6, 4, norm_cfg=dict(type='BN'),
                                 conv_cfg=dict(type='WinogradConv2d'))
    fusion = block.bottleneck
    assert isinstance(fusion, SplitConcatConv)
    assert fusion.split_channels == (6, 6)
    assert type(fusion.conv).__name__ == 'WinogradConv2d'
    assert sorted(k for k in block.state_dict() if k.startswith(
        'bottleneck.')) == [
            'bottleneck.bn.bias', 'bottleneck.bn.num_batches_tracked',
            'bottleneck.bn.running_mean', 'bottleneck.bn.running_var',
            'bottleneck.bn.weight', 'bottleneck.conv.weight']
    assert block.state_dict()['bottleneck.conv.weight'].shape == (6, 12, 1, 1)


def test_ocr_head_layers_shapes_and_dependence_on_prev_logits():
    head = OCRHead(
        in_channels=[4, 6],
        in_index=(0, 1),
        input_transform='resize_concat',
        channels=8,
        ocr_channels=4,
        num_classes=3,
        norm_cfg=dict(type='BN'),
        dropout_ratio=-1)
    head.eval()
    # convs before a norm have no bias, the classifier has one
    assert head.bottleneck.conv.bias is None
    assert head.object_context_block.query_project[0].conv.bias is None
    assert head.conv_seg.bias is not None
    inputs = [torch.randn(2, 4, 8, 10), torch.randn(2, 6, 4, 5)]
    prev = torch.randn(2, 3, 8, 10)
    out = head(inputs, prev)
    assert out.shape == (2, 3, 8, 10)
    assert not torch.allclose(out, head(inputs, prev * 5))


def test_ocr_head_parameter_count_at_hrformer_s_size():
    head = OCRHead(in_channels=[32, 64, 128, 256], in_index=(0, 1, 2, 3),
                   input_transform='resize_concat', channels=512,
                   ocr_channels=256, num_classes=19, norm_cfg=dict(type='BN'))
    c_in, c, k, n = 480, 512, 256, 19
    expected = (
        c_in * c * 9 + 2 * c  # 3x3 bottleneck (no bias) + BN
        + 2 * (c * k + 2 * k + k * k + 2 * k)  # query and key: 2 conv+BN
        + c * k + 2 * k  # value
        + k * c + 2 * c  # out
        + 2 * c * c + 2 * c  # fusion of [context, feats]
        + c * n + n)  # classifier
    assert sum(p.numel() for p in head.parameters()) == expected
