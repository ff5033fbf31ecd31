"""EncoderDecoder: slide vs whole inference, post-processing, loss keys."""
import pytest
import torch
import torch.nn.functional as F

from hrformer_seg.registry import MODELS
from hrformer_seg.structures import SegDataSample
from tests.helpers.segmentors import fcn_cfg, sample_with_label


def _model(**kwargs):
    cfg = dict(type='EncoderDecoder',
               backbone=dict(type='TinySegTestBackbone'),
               decode_head=fcn_cfg(num_classes=4))
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.eval()
    return model


def test_slide_equals_whole_when_one_crop_covers_the_image():
    model = _model()
    x = torch.randn(2, 3, 40, 56)
    with torch.no_grad():
        whole = model.inference(x)
        model.test_cfg = dict(mode='slide', crop_size=(64, 64),
                              stride=(32, 32))
        slide = model.inference(x)
    assert whole.shape == (2, 4, 40, 56)
    assert torch.equal(slide, whole)


def test_overlapping_crops_are_averaged():
    model = _model(test_cfg=dict(mode='slide', crop_size=(32, 48),
                                 stride=(16, 32)))
    x = torch.randn(1, 3, 40, 96)
    with torch.no_grad():
        slide = model.inference(x)
        # windows by hand: rows start at 0 and 8 (the second one shifted
        # back to end at 40); columns at 0, 32 and 48 (shifted from 64)
        total = torch.zeros(1, 4, 40, 96)
        count = torch.zeros(1, 1, 40, 96)
        for y in (0, 8):
            for x0 in (0, 32, 48):
                crop = x[:, :, y:y + 32, x0:x0 + 48]
                total[:, :, y:y + 32, x0:x0 + 48] += model.encode_decode(crop)
                count[:, :, y:y + 32, x0:x0 + 48] += 1
    assert count.min() == 1 and count.max() == 4
    assert torch.allclose(slide, total / count, atol=1e-6)


def test_postprocess_removes_padding_undoes_flip_and_resizes():
    model = _model()
    logits = torch.arange(2 * 4 * 5 * 6, dtype=torch.float32).reshape(
        2, 4, 5, 6)
    flipped = SegDataSample(metainfo=dict(
        padding_size=[0, 2, 0, 1], flip=True, flip_direction='horizontal',
        ori_shape=(4, 4)))
    resized = SegDataSample(metainfo=dict(
        padding_size=[0, 0, 0, 1], flip=True, flip_direction='vertical',
        ori_shape=(8, 12)))
    out = model.postprocess_result(logits, [flipped, resized])
    assert torch.equal(out[0].seg_logits.data, logits[0, :, :4, :4].flip(-1))
    assert torch.equal(out[0].pred_sem_seg.data,
                       logits[0, :, :4, :4].flip(-1).argmax(0, keepdim=True))
    expected = F.interpolate(logits[1:, :, :4].flip(2), size=(8, 12),
                             mode='bilinear', align_corners=False)[0]
    assert out[1].seg_logits.shape == (8, 12)
    assert torch.allclose(out[1].seg_logits.data, expected)
    bad = SegDataSample(metainfo=dict(flip=True, flip_direction='sideways'))
    with pytest.raises(ValueError, match='flip_direction'):
        model.postprocess_result(logits[:1], [bad])


def test_predict_odd_size_and_without_data_samples():
    model = _model()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 37, 51), mode='predict')
        raw = model(torch.randn(1, 3, 37, 51), mode='tensor')
    assert out[0].seg_logits.data.shape == (4, 37, 51)
    assert out[0].pred_sem_seg.data.shape == (1, 37, 51)
    assert raw.shape == (1, 4, 10, 13)  # head resolution (stride 4)


def test_loss_keys_with_auxiliary_heads():
    model = _model(auxiliary_head=fcn_cfg(num_classes=4))
    model.train()
    x = torch.randn(2, 3, 32, 32)
    samples = [sample_with_label(torch.randint(0, 4, (32, 32)))
               for _ in range(2)]
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg',
                           'aux.loss_ce', 'aux.acc_seg'}
    model = _model(auxiliary_head=[fcn_cfg(num_classes=4)] * 2)
    model.train()
    losses = model(x, samples, mode='loss')
    assert {'aux_0.loss_ce', 'aux_1.loss_ce'} <= set(losses)


def test_config_errors():
    with pytest.raises(ValueError, match='test_cfg.mode'):
        _model(test_cfg=dict(mode='sliding'))
    with pytest.raises(ValueError, match='test_cfg.stride'):
        _model(test_cfg=dict(mode='slide', crop_size=(8, 8)))
    with pytest.raises(TypeError, match='CascadeEncoderDecoder'):
        _model(decode_head=dict(fcn=fcn_cfg()))


def test_activation_memory_reaches_every_head():
    model = _model(activation_memory='checkpoint',
                   auxiliary_head=[fcn_cfg(num_classes=4),
                                   fcn_cfg(num_classes=4,
                                           activation_memory='lean')])
    assert model.decode_head.activation_memory == 'checkpoint'
    assert [h.activation_memory for h in model.auxiliary_head] == [
        'checkpoint', 'lean']
    # a model none of whose parts has the setting says so
    with pytest.raises(ValueError, match="'lean', but none of its parts"):
        MODELS.build(dict(type='EncoderDecoder',
                          backbone=dict(type='TinySegTestBackbone'),
                          decode_head=dict(type='PlainTestHead'),
                          activation_memory='lean'))


@MODELS.register_module(force=True)
class PlainTestHead(torch.nn.Module):
    """A head without the activation memory setting."""

    align_corners = False
    num_classes = out_channels = 2
