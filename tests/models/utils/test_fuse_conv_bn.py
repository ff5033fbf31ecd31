"""Folding BN into convolutions: same outputs as the plain model."""
import copy

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from hrformer_seg.models.utils import fold_batch_norms
from hrformer_seg.registry import MODELS


def _hrformer_s_ocr():
    def head(**kwargs):
        return dict(in_channels=[32, 64, 128, 256], in_index=(0, 1, 2, 3),
                    input_transform='resize_concat', channels=64,
                    num_classes=7, norm_cfg=dict(type='BN'),
                    align_corners=False, **kwargs)

    return MODELS.build(dict(
        type='CascadeEncoderDecoder',
        num_stages=2,
        backbone=dict(type='HRFormer', arch='small'),
        decode_head=dict(
            fcn=head(type='FCNHead', num_convs=1, kernel_size=3,
                     concat_input=False, dropout_ratio=-1),
            ocr=head(type='OCRHead', ocr_channels=32)),
        test_cfg=dict(mode='whole')))


def _randomise_batch_norms(model, generator):
    """Trained-looking BN statistics and affine parameters."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=generator) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=generator) * 0.1)


def test_folded_model_matches_plain_model():
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    plain = _hrformer_s_ocr().eval()
    _randomise_batch_norms(plain, gen)
    num_bn = sum(isinstance(m, _BatchNorm) for m in plain.modules())
    folded = copy.deepcopy(plain)
    assert fold_batch_norms(folded) == num_bn > 100
    assert not any(isinstance(m, _BatchNorm) for m in folded.modules())

    x = torch.randn(2, 3, 64, 96, generator=gen)
    with torch.no_grad():
        ref = plain(x, mode='tensor')
        out = folded(x, mode='tensor')
    rel = ((out - ref).abs().max() / ref.abs().max()).item()
    assert rel < 1e-4, rel
    agree = (out.argmax(1) == ref.argmax(1)).float().mean().item()
    assert agree > 0.999, agree


def test_refuses_a_model_in_training_mode():
    model = _hrformer_s_ocr().train()
    with pytest.raises(RuntimeError, match='eval mode'):
        fold_batch_norms(model)
