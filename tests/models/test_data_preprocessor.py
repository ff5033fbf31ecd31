"""SegDataPreProcessor: channel order, normalisation, padding, metainfo."""
import pytest
import torch
from mmengine.structures import PixelData

from hrformer_seg.registry import MODELS
from hrformer_seg.structures import SegDataSample

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def _sample(h, w, with_label=True, fill=1):
    sample = SegDataSample(
        metainfo=dict(ori_shape=(h, w), img_path=f'{h}.png'))
    if with_label:
        sample.gt_sem_seg = PixelData(
            data=torch.full((1, h, w), fill, dtype=torch.long))
    return sample


def _image(h, w, bgr=(10, 20, 30)):
    img = torch.empty(3, h, w, dtype=torch.uint8)
    for c, v in enumerate(bgr):
        img[c] = v
    return img


def _build(**kwargs):
    cfg = dict(type='SegDataPreProcessor', mean=MEAN, std=STD,
               bgr_to_rgb=True, pad_val=0, seg_pad_val=255)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_bgr_to_rgb_and_normalisation():
    out = _build()(dict(inputs=[_image(2, 3)], data_samples=[_sample(2, 3)]),
                   training=False)
    x = out['inputs']
    assert x.shape == (1, 3, 2, 3) and x.dtype == torch.float32
    # pixel (B, G, R) = (10, 20, 30) -> RGB (30, 20, 10), then ImageNet stats
    expected = [(30 - MEAN[0]) / STD[0], (20 - MEAN[1]) / STD[1],
                (10 - MEAN[2]) / STD[2]]
    assert x[0, :, 1, 2].tolist() == pytest.approx(expected, rel=1e-6)
    no_swap = _build(bgr_to_rgb=False)(dict(inputs=[_image(2, 3)]))
    assert no_swap['inputs'][0, 0, 0, 0].item() == pytest.approx(
        (10 - MEAN[0]) / STD[0], rel=1e-6)


def test_training_pads_to_size_right_bottom_with_metainfo():
    pre = _build(size=(4, 6), pad_val=0, seg_pad_val=255)
    samples = [_sample(3, 5, fill=2), _sample(4, 4, fill=3)]
    out = pre(dict(inputs=[_image(3, 5), _image(4, 4)], data_samples=samples),
              training=True)
    x = out['inputs']
    assert x.shape == (2, 3, 4, 6)
    # padded area is exactly pad_val (0 after normalisation)
    assert (x[0, :, 3, :] == 0).all() and (x[0, :, :, 5] == 0).all()
    assert (x[0, :, :3, :5] != 0).all()
    assert (x[1, :, :, 4:] == 0).all() and (x[1, :, :, :4] != 0).all()
    label0 = out['data_samples'][0].gt_sem_seg.data
    assert label0.shape == (1, 4, 6)
    assert (label0[0, :3, :5] == 2).all()
    assert (label0[0, 3, :] == 255).all() and (label0[0, :, 5] == 255).all()
    meta = out['data_samples'][0].metainfo
    assert meta['img_shape'] == (3, 5)
    assert meta['pad_shape'] == (4, 6) == meta['batch_input_shape']
    assert meta['padding_size'] == [0, 1, 0, 1]
    assert out['data_samples'][1].metainfo['padding_size'] == [0, 2, 0, 0]


def test_size_divisor_and_too_large_image():
    pre = _build(size_divisor=8)
    out = pre(dict(inputs=[_image(9, 5)], data_samples=[_sample(9, 5)]),
              training=True)
    assert out['inputs'].shape == (1, 3, 16, 8)
    assert out['data_samples'][0].gt_sem_seg.data.shape == (1, 16, 8)
    with pytest.raises(ValueError, match='does not fit'):
        _build(size=(4, 4))(dict(inputs=[_image(5, 4)],
                                 data_samples=[_sample(5, 4)]), training=True)


def test_test_mode_batches_different_sizes_without_touching_labels():
    pre = _build(size=(2, 2))  # the training size must not apply in test
    samples = [_sample(3, 7), _sample(5, 4)]
    out = pre(dict(inputs=[_image(3, 7), _image(5, 4)], data_samples=samples))
    assert out['inputs'].shape == (2, 3, 5, 7)
    samples = out['data_samples']  # cast_data returns copies
    assert samples[0].metainfo['padding_size'] == [0, 0, 0, 2]
    assert samples[1].metainfo['padding_size'] == [0, 3, 0, 0]
    assert samples[0].gt_sem_seg.data.shape == (1, 3, 7)  # unpadded
    pre = _build(test_cfg=dict(size_divisor=4))
    out = pre(dict(inputs=[_image(3, 7), _image(5, 4)],
                   data_samples=[_sample(3, 7), _sample(5, 4)]))
    assert out['inputs'].shape == (2, 3, 8, 8)


def test_errors_name_the_problem():
    pre = _build()
    with pytest.raises(ValueError, match='gt_sem_seg'):
        pre(dict(inputs=[_image(2, 2)],
                 data_samples=[_sample(2, 2, with_label=False)]),
            training=True)
    with pytest.raises(ValueError, match='differ in size'):
        pre(dict(inputs=[_image(2, 3)], data_samples=[_sample(3, 2)]),
            training=True)
    with pytest.raises(ValueError, match='mean and std'):
        _build(std=None)
    with pytest.raises(KeyError, match='test_cfg'):
        _build(test_cfg=dict(size_div=4))
