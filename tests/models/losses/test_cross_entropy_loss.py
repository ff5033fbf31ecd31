"""CrossEntropyLoss and accuracy against values computed by hand."""
import math

import pytest
import torch

from hrformer_seg.models.losses import CrossEntropyLoss, accuracy
from hrformer_seg.registry import MODELS


def _logits_and_label():
    # one image, 3 classes, 1x4 pixels; the last pixel is ignored
    logits = torch.tensor([[0.0, 1.0, 2.0, 0.5],
                           [0.0, 0.0, 0.0, 0.5],
                           [0.0, 2.0, -1.0, 0.5]]).reshape(1, 3, 1, 4)
    label = torch.tensor([[[0, 2, 1, 255]]])
    return logits, label


def _hand_ce():
    # -log softmax of the true class, pixel by pixel
    p0 = -math.log(1 / 3)
    p1 = -(2.0 - math.log(math.exp(1) + 1 + math.exp(2)))
    p2 = -(0.0 - math.log(math.exp(2) + 1 + math.exp(-1)))
    return [p0, p1, p2, 0.0]


def test_mean_counts_every_pixel_by_default():
    logits, label = _logits_and_label()
    loss = CrossEntropyLoss()(logits, label)
    assert loss.item() == pytest.approx(sum(_hand_ce()) / 4, rel=1e-6)


def test_avg_non_ignore_divides_by_labelled_pixels():
    logits, label = _logits_and_label()
    loss = CrossEntropyLoss(avg_non_ignore=True)(logits, label)
    assert loss.item() == pytest.approx(sum(_hand_ce()) / 3, rel=1e-6)


def test_pixel_weight_class_weight_and_loss_weight():
    logits, label = _logits_and_label()
    ce = _hand_ce()
    weight = torch.tensor([[[1.0, 0.0, 1.0, 1.0]]])
    loss = CrossEntropyLoss(loss_weight=0.4)(logits, label, weight=weight)
    assert loss.item() == pytest.approx(0.4 * (ce[0] + ce[2]) / 4, rel=1e-6)

    class_weight = [2.0, 1.0, 3.0]
    loss = CrossEntropyLoss(class_weight=class_weight)(logits, label)
    expected = (2.0 * ce[0] + 3.0 * ce[1] + 1.0 * ce[2]) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_reduction_none_and_sum_and_ignore_override():
    logits, label = _logits_and_label()
    per_pixel = CrossEntropyLoss(reduction='none')(logits, label)
    assert per_pixel.shape == (1, 1, 4)
    assert per_pixel.flatten().tolist() == pytest.approx(_hand_ce(), rel=1e-6)
    total = CrossEntropyLoss(reduction='sum')(logits, label)
    assert total.item() == pytest.approx(sum(_hand_ce()), rel=1e-6)
    # with ignore_index=0 the first pixel drops out instead
    label2 = torch.tensor([[[0, 2, 1, 1]]])
    loss = CrossEntropyLoss(reduction='sum')(logits, label2, ignore_index=0)
    expected = _hand_ce()[1] + _hand_ce()[2] + (-math.log(1 / 3))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_built_from_registry_with_name_and_errors():
    loss = MODELS.build(dict(type='CrossEntropyLoss', loss_name='loss_foo'))
    assert loss.loss_name == 'loss_foo'
    with pytest.raises(ValueError, match='loss_'):
        CrossEntropyLoss(loss_name='ce')
    with pytest.raises(NotImplementedError):
        CrossEntropyLoss(use_sigmoid=True)
    logits, label = _logits_and_label()
    with pytest.raises(ValueError, match='class_weight'):
        CrossEntropyLoss(class_weight=[1.0, 2.0])(logits, label)


def test_accuracy_skips_ignored_pixels():
    logits, label = _logits_and_label()
    # argmax per pixel: 0 (tie -> first), 2, 0, 0; labels 0, 2, 1, ignored
    assert accuracy(logits, label).item() == pytest.approx(200 / 3)
    assert accuracy(logits, torch.full((1, 1, 4), 255)).item() == 0.0
