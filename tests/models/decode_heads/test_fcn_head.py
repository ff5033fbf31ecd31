"""FCNHead and the shared BaseDecodeHead logic (inputs, loss, resize)."""
import pytest
import torch
import torch.nn.functional as F

from hrformer_seg.models.decode_heads import BaseDecodeHead, FCNHead
from hrformer_seg.registry import MODELS


def _head(**kwargs):
    cfg = dict(in_channels=[2, 3], in_index=(0, 1),
               input_transform='resize_concat', channels=4, num_classes=3,
               num_convs=1, concat_input=False, dropout_ratio=-1,
               norm_cfg=dict(type='BN'))
    cfg.update(kwargs)
    return FCNHead(**cfg)


def test_resize_concat_resizes_to_first_input_and_concatenates():
    head = _head()
    a, b = torch.randn(1, 2, 8, 6), torch.randn(1, 3, 4, 3)
    merged = head._transform_inputs([a, b])
    assert merged.shape == (1, 5, 8, 6)
    assert torch.equal(merged[:, :2], a)
    expected_b = F.interpolate(b, size=(8, 6), mode='bilinear',
                               align_corners=False)
    assert torch.allclose(merged[:, 2:], expected_b)
    assert head.in_channels == 5


def test_select_modes():
    inputs = [torch.randn(1, 2, 4, 4), torch.randn(1, 3, 2, 2)]
    single = FCNHead(in_channels=3, in_index=1, channels=3, num_convs=0,
                     concat_input=False, num_classes=2)
    assert single._transform_inputs(inputs) is inputs[1]
    multi = BaseDecodeHead(in_channels=[2, 3], in_index=(0, 1),
                           input_transform='multiple_select', channels=4,
                           num_classes=2)
    assert multi._transform_inputs(inputs) == inputs
    with pytest.raises(TypeError, match='in_channels'):
        FCNHead(in_channels=[2, 3], in_index=0, channels=4, num_classes=2)
    with pytest.raises(ValueError, match='input_transform'):
        _head(input_transform='concat')
    with pytest.raises(ValueError, match='in_channels == channels'):
        FCNHead(in_channels=3, in_index=0, channels=4, num_convs=0,
                num_classes=2)


def test_fcn_layers_and_parameter_count_at_hrformer_s_size():
    head = MODELS.build(dict(
        type='FCNHead', in_channels=[32, 64, 128, 256], in_index=(0, 1, 2, 3),
        input_transform='resize_concat', channels=512, num_convs=1,
        kernel_size=3, concat_input=False, dropout_ratio=-1, num_classes=19,
        norm_cfg=dict(type='BN')))
    assert head.convs[0].conv.bias is None  # no conv bias before BN
    assert head.dropout is None
    expected = 480 * 512 * 9 + 2 * 512 + 512 * 19 + 19
    assert sum(p.numel() for p in head.parameters()) == expected


def test_concat_input_and_dilation_keep_size():
    head = _head(concat_input=True, num_convs=2, dilation=2)
    head.eval()
    out = head([torch.randn(2, 2, 9, 7), torch.randn(2, 3, 5, 4)])
    assert out.shape == (2, 3, 9, 7)
    assert head.conv_cat.conv.in_channels == 5 + 4


def test_loss_by_feat_resizes_logits_to_labels():
    head = _head(align_corners=False)
    logits = torch.randn(2, 3, 4, 5)
    label = torch.randint(0, 3, (2, 1, 8, 10))
    label[0, 0, 0, :4] = 255
    losses = head.loss_by_feat(logits, label)
    big = F.interpolate(logits, size=(8, 10), mode='bilinear',
                        align_corners=False)
    expected = F.cross_entropy(big, label[:, 0], ignore_index=255,
                               reduction='none').mean()
    assert losses['loss_ce'].item() == pytest.approx(expected.item(),
                                                    rel=1e-6)
    valid = label[:, 0] != 255
    acc = (big.argmax(1) == label[:, 0])[valid].float().mean() * 100
    assert losses['acc_seg'].item() == pytest.approx(acc.item(), rel=1e-6)


def test_several_losses_are_summed_per_name():
    head = _head(loss_decode=[
        dict(type='CrossEntropyLoss', loss_weight=1.0),
        dict(type='CrossEntropyLoss', loss_weight=0.5),
        dict(type='CrossEntropyLoss', loss_weight=2.0, loss_name='loss_b'),
    ])
    logits = torch.randn(1, 3, 4, 4)
    label = torch.randint(0, 3, (1, 4, 4))
    losses = head.loss_by_feat(logits, label)
    ce = F.cross_entropy(logits, label).item()
    assert losses['loss_ce'].item() == pytest.approx(1.5 * ce, rel=1e-6)
    assert losses['loss_b'].item() == pytest.approx(2.0 * ce, rel=1e-6)
