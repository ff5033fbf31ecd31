"""Folding BN into convolutions: same outputs as the plain model."""
import copy

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from hrformer_seg.models.utils import fold_batch_norms
from tests.helpers.tiny_hrformer import hrformer_s_ocrnet


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
    plain = hrformer_s_ocrnet().eval()
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
    model = hrformer_s_ocrnet().train()
    with pytest.raises(RuntimeError, match='eval mode'):
        fold_batch_norms(model)
