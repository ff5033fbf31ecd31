"""SegTTAModel: average of softmax probabilities over views."""
import copy

import torch
import torch.nn.functional as F

from hrformer_seg.registry import MODELS
from hrformer_seg.structures import SegDataSample
from tests.helpers.segmentors import cascade_cfg, sample_with_label

PRE = dict(type='SegDataPreProcessor', mean=[100.0, 110.0, 120.0],
           std=[50.0, 60.0, 70.0], bgr_to_rgb=True)


def _tta():
    torch.manual_seed(0)
    tta = MODELS.build(dict(type='SegTTAModel',
                            module=cascade_cfg(num_classes=4,
                                               data_preprocessor=PRE)))
    tta.eval()
    return tta


def _images(num=2, h=24, w=40):
    torch.manual_seed(1)
    return [torch.rand(3, h, w) * 255 for _ in range(num)]


def _sample(h, w, **meta):
    return SegDataSample(metainfo=dict(ori_shape=(h, w), img_path='a.png',
                                       **meta))


def _plain_probs(model, img, ori_shape):
    """Probabilities of one plain, unflipped prediction at ori_shape."""
    out = model.test_step(dict(inputs=[img],
                               data_samples=[_sample(*ori_shape)]))
    return out[0].seg_logits.data.softmax(dim=0)


def test_one_view_without_flip_equals_plain_prediction():
    tta = _tta()
    imgs = _images()
    gt = sample_with_label(torch.randint(0, 4, (24, 40)), ori_shape=(24, 40),
                           img_path='a.png')
    with torch.no_grad():
        merged = tta.test_step(dict(inputs=[imgs],
                                    data_samples=[[gt, _sample(24, 40)]]))
        plain = tta.module.test_step(dict(
            inputs=imgs, data_samples=[_sample(24, 40), _sample(24, 40)]))
    for m, p in zip(merged, plain):
        assert torch.allclose(m.seg_logits.data,
                              p.seg_logits.data.softmax(dim=0), atol=1e-6)
        assert torch.equal(m.pred_sem_seg.data, p.pred_sem_seg.data)
    assert torch.equal(merged[0].gt_sem_seg.data, gt.gt_sem_seg.data)
    assert merged[0].img_path == 'a.png'


def test_scales_and_flips_average_the_probabilities():
    tta = _tta()
    model = tta.module
    imgs = _images()
    half = [F.interpolate(i[None], size=(12, 20), mode='bilinear',
                          align_corners=False)[0] for i in imgs]
    flip = dict(flip=True, flip_direction='horizontal')
    views = [
        (imgs, [_sample(24, 40) for _ in imgs]),
        ([i.flip(-1) for i in imgs], [_sample(24, 40, **flip) for _ in imgs]),
        (half, [_sample(24, 40) for _ in imgs]),
        ([i.flip(-1) for i in half], [_sample(24, 40, **flip) for _ in imgs]),
    ]
    data = dict(inputs=[v[0] for v in views],
                data_samples=[v[1] for v in views])
    with torch.no_grad():
        merged = tta.test_step(copy.deepcopy(data))
        for i, img in enumerate(imgs):
            # expected, view by view: predict without any metainfo magic,
            # then flip and resize here
            small = half[i]
            probs = [
                _plain_probs(model, img, (24, 40)),
                _plain_probs(model, img.flip(-1), (24, 40)).flip(-1),
                _resized_probs(model, small),
                _resized_probs(model, small.flip(-1)).flip(-1),
            ]
            expected = torch.stack(probs).mean(dim=0)
            assert torch.allclose(merged[i].seg_logits.data, expected,
                                  atol=1e-5)
            assert torch.equal(merged[i].pred_sem_seg.data,
                               expected.argmax(0, keepdim=True))
        # merge_preds on all views at once gives the same result
        per_view = [model.test_step(dict(inputs=v[0], data_samples=v[1]))
                    for v in copy.deepcopy(views)]
        by_image = list(zip(*per_view))
        merged_again = tta.merge_preds(by_image)
    for a, b in zip(merged, merged_again):
        assert torch.allclose(a.seg_logits.data, b.seg_logits.data,
                              atol=1e-6)
    assert 'flip' not in merged[0].metainfo
    assert merged[0].img_shape == (24, 40)


def _resized_probs(model, img):
    """A half-size view predicted at its own size, upsampled to 24x40."""
    out = model.test_step(dict(inputs=[img],
                               data_samples=[_sample(12, 20)]))
    logits = F.interpolate(out[0].seg_logits.data[None], size=(24, 40),
                           mode='bilinear', align_corners=False)[0]
    return logits.softmax(dim=0)
