"""IoUMetric against a confusion matrix computed here."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from hrformer_seg.evaluation import IoUMetric
from hrformer_seg.evaluation.metrics import (
    areas_from_confusion,
    confusion_matrix,
    intersect_and_union,
)
from hrformer_seg.structures import SegDataSample

CLASSES = ('a', 'b', 'c', 'd', 'e')  # 'e' never appears anywhere


def sample(pred, label, name='x_leftImg8bit.png'):
    s = SegDataSample(metainfo=dict(img_path=name))
    s.pred_sem_seg = PixelData(data=torch.as_tensor(pred)[None])
    if label is not None:
        s.gt_sem_seg = PixelData(data=torch.as_tensor(label)[None])
    return s


def data(seed=0, n=3):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        label = rng.choice([0, 1, 2, 255], (7, 9), p=[0.4, 0.3, 0.2, 0.1])
        pred = np.where(rng.random((7, 9)) < 0.7, label, rng.integers(0, 4,
                                                                      (7, 9)))
        pred[pred == 255] = 3  # 'd' is predicted but never labelled
        out.append((pred.astype(np.int64), label.astype(np.int64)))
    return out


def confusion(pairs, k):
    cm = np.zeros((k, k), np.int64)
    for pred, label in pairs:
        keep = label != 255
        np.add.at(cm, (label[keep], pred[keep]), 1)
    return cm


def run(metric, pairs, batch=2):
    metric.dataset_meta = dict(classes=CLASSES)
    samples = [sample(pred, label) for pred, label in pairs]
    for i in range(0, len(samples), batch):
        metric.process({}, [s.to_dict() for s in samples[i:i + batch]])
    return metric.evaluate(len(samples))


def test_against_a_hand_made_confusion_matrix():
    pairs = data()
    cm = confusion(pairs, 5)
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = tp / (cm.sum(0) + cm.sum(1) - tp)
        acc = tp / cm.sum(1)
    assert np.isnan(iou[4]) and iou[3] == 0  # absent / predicted only
    res = run(IoUMetric(classwise=True), pairs)
    assert res['aAcc'] == pytest.approx(100 * tp.sum() / cm.sum(), abs=0.01)
    assert res['mIoU'] == pytest.approx(100 * np.nanmean(iou), abs=0.01)
    assert res['mAcc'] == pytest.approx(100 * np.nanmean(acc), abs=0.01)
    for name, v in zip(CLASSES, iou):
        if np.isnan(v):
            assert np.isnan(res[f'IoU.{name}'])
        else:
            assert res[f'IoU.{name}'] == pytest.approx(100 * v, abs=0.01)
    # nan_to_num brings absent classes into the mean
    res0 = run(IoUMetric(nan_to_num=0), pairs)
    assert res0['mIoU'] == pytest.approx(100 * np.nan_to_num(iou).mean(),
                                         abs=0.01)


def test_one_counting_confusion_matrix_and_its_areas():
    pairs = data(3)
    total = torch.zeros(5, 5, dtype=torch.int64)
    for pred, label in pairs:
        counts = confusion_matrix(torch.as_tensor(pred),
                                  torch.as_tensor(label), 5, 255)
        assert counts.dtype == torch.int64 and counts.shape == (5, 5)
        inter, union, area_pred, area_label = intersect_and_union(
            torch.as_tensor(pred), torch.as_tensor(label), 5, 255)
        keep = label != 255
        assert area_label.tolist() == np.bincount(label[keep],
                                                  minlength=5).tolist()
        assert area_pred.tolist() == np.bincount(pred[keep],
                                                 minlength=5).tolist()
        assert inter.tolist() == np.bincount(
            label[keep][pred[keep] == label[keep]], minlength=5).tolist()
        assert torch.equal(union, area_pred + area_label - inter)
        total += counts
    assert np.array_equal(total.numpy(), confusion(pairs, 5))
    assert [a.tolist() for a in areas_from_confusion(
        torch.tensor([[3, 1], [0, 0]]))] == [[3, 0], [4, 1], [3, 1], [4, 0]]


def test_dice_and_fscore():
    pairs = data(1)
    cm = confusion(pairs, 5)
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid='ignore', divide='ignore'):
        dice = 2 * tp / (cm.sum(0) + cm.sum(1))
        prec, rec = tp / cm.sum(0), tp / cm.sum(1)
        f2 = 5 * prec * rec / (4 * prec + rec)
    res = run(IoUMetric(iou_metrics=['mDice', 'mFscore'], beta=2), pairs)
    assert res['mDice'] == pytest.approx(100 * np.nanmean(dice), abs=0.01)
    assert res['mFscore'] == pytest.approx(100 * np.nanmean(f2), abs=0.01)
    assert res['mPrecision'] == pytest.approx(100 * np.nanmean(prec),
                                              abs=0.01)
    assert 'mIoU' not in res


def test_batching_does_not_change_the_result():
    pairs = data(2, n=5)
    assert run(IoUMetric(), pairs, batch=1) == run(IoUMetric(), pairs,
                                                   batch=5)


def test_perfect_prediction():
    label = np.array([[0, 1], [2, 255]])
    pred = np.array([[0, 1], [2, 4]])  # the ignored pixel does not count
    res = run(IoUMetric(), [(pred, label)])
    assert res == dict(aAcc=100.0, mIoU=100.0, mAcc=100.0)


def test_bad_inputs_name_the_image():
    m = IoUMetric()
    m.dataset_meta = dict(classes=CLASSES)
    with pytest.raises(ValueError, match='y_leftImg8bit.png'):
        m.process({}, [sample(np.full((2, 2), 7), np.zeros((2, 2)),
                              'y_leftImg8bit.png')])
    with pytest.raises(ValueError, match='differ in size'):
        m.process({}, [sample(np.zeros((2, 3)), np.zeros((2, 2)))])
    with pytest.raises(KeyError):
        IoUMetric(iou_metrics=['mAP'])
    with pytest.raises(ValueError, match='classes'):
        IoUMetric().process({}, [sample(np.zeros((2, 2)), np.zeros((2, 2)))])


def test_format_only_writes_predictions(tmp_path):
    m = IoUMetric(format_only=True, output_dir=str(tmp_path))
    m.dataset_meta = dict(classes=CLASSES)
    pred = np.array([[0, 3], [2, 1]])
    m.process({}, [sample(pred, None, '/d/z_leftImg8bit.png')])
    assert m.evaluate(1) == {}
    out = cv2.imread(str(tmp_path / 'z_leftImg8bit.png'),
                     cv2.IMREAD_UNCHANGED)
    assert np.array_equal(out, pred)
