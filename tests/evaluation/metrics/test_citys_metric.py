"""CityscapesMetric: the official evaluation agrees with IoUMetric."""
import os
import shutil
import zipfile

import cv2
import numpy as np
import pytest
import torch
from cityscapesscripts.helpers.labels import trainId2label
from mmengine.structures import PixelData

from hrformer_seg.datasets import CityscapesDataset
from hrformer_seg.evaluation import CityscapesMetric, IoUMetric
from hrformer_seg.structures import SegDataSample

META = dict(classes=CityscapesDataset.METAINFO['classes'])


def predictions(root, split='val', seed=0):
    """Samples whose predictions are the labels with 30% of pixels wrong."""
    ds = CityscapesDataset(data_root=str(root), data_prefix=dict(
        img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'))
    rng = np.random.default_rng(seed)
    out = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        gt = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
        pred = gt.astype(np.int64)
        wrong = rng.random(gt.shape) < 0.3
        pred[wrong] = rng.integers(0, 19, int(wrong.sum()))
        pred[pred == 255] = 16  # 'train' predicted on ignored pixels only
        s = SegDataSample(metainfo=dict(img_path=info['img_path'],
                                        seg_map_path=info['seg_map_path']))
        s.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
        s.gt_sem_seg = PixelData(data=torch.from_numpy(gt.astype(
            np.int64))[None])
        out.append(s.to_dict())
    return out


def evaluate(metric, samples):
    metric.dataset_meta = META
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_official_evaluation_agrees_with_iou_metric(tiny_cityscapes):
    samples = predictions(tiny_cityscapes)
    ours = evaluate(IoUMetric(classwise=True), samples)
    official = evaluate(CityscapesMetric(classwise=True), samples)
    compared = 0
    for name in META['classes']:
        a, b = ours[f'IoU.{name}'], official[f'IoU.{name}']
        assert np.isnan(a) == np.isnan(b), name
        if not np.isnan(a):
            assert a == pytest.approx(b, abs=0.011), name
            compared += 1
    assert compared >= 6
    assert official['mIoU'] == pytest.approx(ours['mIoU'], abs=0.02)
    assert 0 < official['mIoU_category'] <= 100


def test_format_only_writes_label_ids_and_a_zip(tiny_cityscapes, tmp_path):
    samples = predictions(tiny_cityscapes)
    out_dir = tmp_path / 'submission'
    m = CityscapesMetric(output_dir=str(out_dir), format_only=True,
                         zip_results=True)
    assert evaluate(m, samples) == {}
    lut = {t: lab.id for t, lab in trainId2label.items() if 0 <= t < 255}
    for s in samples:
        name = os.path.basename(s['img_path'])  # *_leftImg8bit.png
        png = cv2.imread(str(out_dir / name), cv2.IMREAD_UNCHANGED)
        pred = s['pred_sem_seg']['data'][0].numpy()
        assert png.dtype == np.uint8 and png.shape == pred.shape
        assert np.array_equal(png, np.vectorize(lut.get)(pred))
    with zipfile.ZipFile(str(out_dir) + '.zip') as z:
        assert sorted(z.namelist()) == sorted(
            os.path.basename(s['img_path']) for s in samples)


def test_temporary_results_are_removed(tiny_cityscapes):
    m = CityscapesMetric()
    evaluate(m, predictions(tiny_cityscapes))
    assert m._tmp_dir is None
    kept = CityscapesMetric(keep_results=True)
    evaluate(kept, predictions(tiny_cityscapes))
    assert os.path.isdir(kept._tmp_dir)
    shutil.rmtree(kept._tmp_dir)


def test_missing_label_ids_are_named(tiny_cityscapes, tmp_path):
    root = tmp_path / 'copy'
    shutil.copytree(tiny_cityscapes, root)
    victim = sorted((root / 'gtFine' / 'val').rglob('*_labelIds.png'))[0]
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=victim.name):
        evaluate(CityscapesMetric(), predictions(root))
