"""OHEMPixelSampler keeps exactly the hardest labelled pixels."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from hrformer_seg.models.losses import CrossEntropyLoss
from hrformer_seg.models.samplers import OHEMPixelSampler
from hrformer_seg.registry import TASK_UTILS


class _Head(nn.Module):
    """The two attributes a sampler reads from its decode head."""

    def __init__(self):
        super().__init__()
        self.ignore_index = 255
        self.loss_decode = CrossEntropyLoss()


def _batch(seed=0, n=2, k=4, h=6, w=7, ignore_frac=0.3):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, h, w, generator=gen) * 3
    label = torch.randint(0, k, (n, 1, h, w), generator=gen)
    ignored = torch.rand(n, 1, h, w, generator=gen) < ignore_frac
    label[ignored] = 255
    return logits, label


def _true_class_prob(logits, label):
    """Probability of the label per pixel, by a loop (independent code)."""
    probs = F.softmax(logits, dim=1)
    out = torch.full(label.shape[:1] + label.shape[2:], float('nan'))
    n, _, h, w = label.shape
    for b in range(n):
        for y in range(h):
            for x in range(w):
                c = int(label[b, 0, y, x])
                if c != 255:
                    out[b, y, x] = probs[b, c, y, x]
    return out


@pytest.mark.parametrize('min_kept', [1, 5, 20])
def test_thresh_keeps_hardest_and_at_least_min_kept(min_kept):
    logits, label = _batch()
    head = _Head()
    # threshold so low that the min_kept rule decides
    weight = OHEMPixelSampler(head, thresh=1e-6, min_kept=min_kept).sample(
        logits, label)
    prob = _true_class_prob(logits, label)
    valid = ~torch.isnan(prob)
    kept = weight > 0
    assert not (kept & ~valid).any(), 'an ignored pixel was kept'
    assert int(kept.sum()) == 2 * min_kept  # no ties in random logits
    # every kept pixel is at least as hard as every dropped labelled pixel
    assert prob[kept].max() <= prob[valid & ~kept].min()
    assert set(weight.unique().tolist()) <= {0.0, 1.0}


def test_thresh_keeps_every_pixel_below_threshold():
    logits, label = _batch(seed=1)
    prob = _true_class_prob(logits, label)
    valid = ~torch.isnan(prob)
    thresh = 0.5
    below = valid & (prob < thresh)
    assert int(below.sum()) > 4  # the case is meaningful
    weight = OHEMPixelSampler(_Head(), thresh=thresh, min_kept=2).sample(
        logits, label)
    assert torch.equal(weight > 0, below)


def test_ties_at_the_boundary_are_all_kept():
    # 6 labelled pixels with equal probability: keeping only 2 of them
    # would be arbitrary, so all are kept
    logits = torch.zeros(1, 3, 2, 3)
    label = torch.zeros(1, 1, 2, 3, dtype=torch.long)
    weight = OHEMPixelSampler(_Head(), thresh=0.1, min_kept=2).sample(
        logits, label)
    assert int((weight > 0).sum()) == 6


def test_fewer_labelled_than_min_kept_keeps_all_labelled():
    logits, label = _batch(seed=2, n=1)
    valid = label[:, 0] != 255
    weight = OHEMPixelSampler(_Head(), thresh=0.9, min_kept=10000).sample(
        logits, label)
    assert torch.equal(weight > 0, valid)
    all_ignored = torch.full_like(label, 255)
    weight = OHEMPixelSampler(_Head(), thresh=0.9, min_kept=3).sample(
        logits, all_ignored)
    assert weight.sum() == 0


def test_without_thresh_keeps_top_losses():
    logits, label = _batch(seed=3)
    head = _Head()
    weight = TASK_UTILS.build(
        dict(type='OHEMPixelSampler', min_kept=7),
        default_args=dict(context=head)).sample(logits, label)
    # the largest loss = the smallest true-class probability
    prob = _true_class_prob(logits, label)
    valid = ~torch.isnan(prob)
    order = prob[valid].sort().values
    expected = valid & (prob <= order[13])
    assert int(expected.sum()) == 14
    assert torch.equal(weight > 0, expected)


def test_sampler_in_a_head_weights_the_loss():
    # the decode head passes the weights to the loss: only kept pixels count
    from hrformer_seg.models.decode_heads import FCNHead
    head = FCNHead(in_channels=3, channels=4, num_classes=4, num_convs=1,
                   concat_input=False, in_index=0,
                   sampler=dict(type='OHEMPixelSampler', thresh=1e-6,
                                min_kept=3))
    logits, label = _batch(seed=4, n=1, h=5, w=5)
    losses = head.loss_by_feat(logits, label)
    weight = head.sampler.sample(logits, label)
    per_pixel = F.cross_entropy(logits, label[:, 0], ignore_index=255,
                                reduction='none')
    expected = (per_pixel * weight).sum() / label.numel()
    assert losses['loss_ce'].item() == pytest.approx(expected.item(),
                                                    rel=1e-6)
    assert int((weight > 0).sum()) == 3
