"""CascadeEncoderDecoder: FCN -> OCR chain, list/dict stages, training."""
import pytest
import torch

from hrformer_seg.registry import MODELS
from tests.helpers.segmentors import (
    cascade_cfg,
    fcn_cfg,
    ocr_cfg,
    sample_with_label,
)


def _build(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(cascade_cfg(num_classes=4, **kwargs))


def test_ocr_stage_receives_the_fcn_logits():
    model = _build()
    model.eval()
    seen = {}
    model.decode_head[0].register_forward_hook(
        lambda m, args, out: seen.update(fcn=out))
    model.decode_head[1].register_forward_hook(
        lambda m, args, out: seen.update(prev=args[1], ocr=out))
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        raw = model(x, mode='tensor')
        logits = model.encode_decode(x)
    assert seen['prev'] is seen['fcn']
    assert torch.equal(raw, seen['ocr'])
    assert logits.shape == (1, 4, 32, 48)


def test_list_and_dict_stages_build_the_same_model():
    named = _build()
    listed = _build(decode_head=[fcn_cfg(4), ocr_cfg(4)])
    assert named.stage_names == ['fcn', 'ocr']
    assert listed.stage_names == ['0', '1']
    assert named.state_dict().keys() == listed.state_dict().keys()
    assert any(k.startswith('decode_head.1.object_context_block')
               for k in named.state_dict())
    named.eval()
    listed.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(named(x), listed(x))


def test_stage_count_and_order_are_checked():
    with pytest.raises(ValueError, match='num_stages=3'):
        _build(num_stages=3)
    with pytest.raises(ValueError, match='first stage'):
        _build(decode_head=dict(ocr=ocr_cfg(4), fcn=fcn_cfg(4)))


def test_loss_keys_and_sgd_steps_lower_the_loss():
    model = _build(decode_head=dict(
        fcn=fcn_cfg(4, sampler=dict(type='OHEMPixelSampler', thresh=0.9,
                                    min_kept=50)),
        ocr=ocr_cfg(4)))
    model.train()
    torch.manual_seed(1)
    # a learnable target: 8x8 blocks of a class, each class with its colour
    label = torch.randint(0, 4, (2, 4, 4)).repeat_interleave(
        8, dim=1).repeat_interleave(8, dim=2)
    colours = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0],
                            [-1.0, -1.0, -1.0]])
    x = colours[label].permute(0, 3, 1, 2) + 0.1 * torch.randn(2, 3, 32, 32)
    samples = [sample_with_label(label[i]) for i in range(2)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    totals = []
    for _ in range(8):
        losses = model(x, samples, mode='loss')
        total = losses['decode_0.loss_ce'] + losses['decode_1.loss_ce']
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(total.item())
    assert set(losses) == {'decode_0.loss_ce', 'decode_0.acc_seg',
                           'decode_1.loss_ce', 'decode_1.acc_seg'}
    assert all(torch.isfinite(torch.tensor(totals)))
    assert totals[-1] < 0.93 * totals[0], totals
