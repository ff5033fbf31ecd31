"""ADE20K, PASCAL-Context-59 and COCO-Stuff-10K on tiny generated trees with
the real file names and layouts, from the raw release where it needs a
converter, through the configs' pipelines to the metric."""
import os
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.structures import PixelData
from PIL import Image
from scipy.io import savemat

from hrformer_seg.datasets.mat_label_convert import (
    COCO_UNUSED_IDS,
    convert_coco_stuff10k,
    convert_pascal_context,
)
from hrformer_seg.evaluation import IoUMetric
from hrformer_seg.registry import DATASETS
from hrformer_seg.structures import SegDataSample

REPO = Path(__file__).resolve().parents[2]
H, W = 6, 8
RNG = np.random.default_rng(0)


def _jpg(path, h=H, w=W):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(RNG.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
        path)


def _png(path, labels):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(labels.astype(np.uint8)).save(path)


def _dataset(config_name, data_root, split='val'):
    cfg = Config.fromfile(str(REPO / 'configs/_base_/datasets' / config_name))
    loader = cfg.val_dataloader if split == 'val' else cfg.train_dataloader
    dataset_cfg = dict(loader.dataset, data_root=str(data_root))
    return DATASETS.build(dataset_cfg)


def _perfect_score(dataset):
    """mIoU of predicting the ground truth: 100 on the classes present."""
    metric = IoUMetric()
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        gt = dataset[i]['data_samples'].gt_sem_seg.data
        sample = SegDataSample(gt_sem_seg=PixelData(data=gt),
                               pred_sem_seg=PixelData(data=gt.clone()))
        metric.process([], [sample.to_dict()])
    return metric.compute_metrics(metric.results)['mIoU']


def test_ade20k_release_layout_reduces_zero_label(tmp_path):
    root = tmp_path / 'ade' / 'ADEChallengeData2016'
    labels = np.array([[0, 1, 150, 2] * 2] * H)
    for split, prefix in (('training', 'train'), ('validation', 'val')):
        stem = f'ADE_{prefix}_00000001'
        _jpg(root / 'images' / split / f'{stem}.jpg')
        _png(root / 'annotations' / split / f'{stem}.png', labels)
    dataset = _dataset('ade20k.py', root)
    assert len(dataset.metainfo['classes']) == 150
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    assert gt[0, :4].tolist() == [255, 0, 149, 1]
    assert gt.shape == (H, W)  # tested at the original size
    assert _perfect_score(dataset) == 100.0
    assert len(_dataset('ade20k.py', root, split='train')) == 1


# release ids (labels.txt) of a few of the 59 classes; the rest are other
# PASCAL-Context classes, i.e. background
CONTEXT_IDS = {'aeroplane': 2, 'bag': 9, 'person': 284, 'tvmonitor': 427,
               'wood': 458}


def _context_release(tmp_path):
    from hrformer_seg.datasets import PascalContextDataset59
    release, voc = tmp_path / 'pascal_context', tmp_path / 'VOC2010'
    names = dict(CONTEXT_IDS)
    free = (i for i in range(1, 460) if i not in CONTEXT_IDS.values())
    for name in PascalContextDataset59.METAINFO['classes']:
        names.setdefault(name.replace('tvmonitor', 'tv monitor'), next(free))
    names['accordion'] = next(free)
    os.makedirs(release / 'trainval')
    (release / 'labels.txt').write_text(''.join(
        f'{i}: {n}\n' for n, i in sorted(names.items(), key=lambda t: t[1])))
    stems = {'train': ['2008_000002', '2008_000003'], 'val': ['2008_000007']}
    for split, split_stems in stems.items():
        os.makedirs(voc / 'ImageSets' / 'Main', exist_ok=True)
        # VOC's list also names an image without context labels
        (voc / 'ImageSets' / 'Main' / f'{split}.txt').write_text(
            '\n'.join(split_stems + [f'2010_00999{len(split)}']) + '\n')
        for stem in split_stems:
            _jpg(voc / 'JPEGImages' / f'{stem}.jpg')
            label_map = np.full((H, W), names['accordion'], np.uint16)
            label_map[0, :5] = [2, 9, 284, 427, 458]
            savemat(release / 'trainval' / f'{stem}.mat',
                    {'LabelMap': label_map})
    return release, voc


def test_pascal_context_from_release(tmp_path):
    release, voc = _context_release(tmp_path)
    assert convert_pascal_context(str(voc), str(release)) == dict(
        train=2, val=1)
    assert (voc / 'ImageSets/SegmentationContext/val.txt').read_text() \
        == '2008_000007\n'
    png = np.array(
        Image.open(voc / 'SegmentationClassContext' / '2008_000002.png'))
    # aeroplane, bag, person, tvmonitor, wood: 1, 2, 37, 55, 59; others 0
    assert png[0, :6].tolist() == [1, 2, 37, 55, 59, 0]
    dataset = _dataset('pascal_context_59.py', voc)
    assert len(dataset) == 1
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    assert gt[0, :6].tolist() == [0, 1, 36, 54, 58, 255]
    assert _perfect_score(dataset) == 100.0


def test_pascal_context_names_missing_classes(tmp_path):
    release, voc = _context_release(tmp_path)
    text = (release / 'labels.txt').read_text().replace(': wood\n', ': x\n')
    (release / 'labels.txt').write_text(text)
    with pytest.raises(KeyError, match="'wood'"):
        convert_pascal_context(str(voc), str(release))


def test_coco_stuff10k_from_release(tmp_path):
    release, out = tmp_path / 'cocostuff-10k-v1.1', tmp_path / 'coco_stuff10k'
    stems = {'train': ['COCO_train2014_000000000077'],
             'test': ['COCO_train2014_000000000139']}
    for split, split_stems in stems.items():
        os.makedirs(release / 'imageLists', exist_ok=True)
        (release / 'imageLists' / f'{split}.txt').write_text(
            '\n'.join(split_stems) + '\n')
        for stem in split_stems:
            _jpg(release / 'images' / f'{stem}.jpg')
            labels = np.zeros((H, W), np.uint8)
            labels[0, :6] = [0, 1, 11, 13, 12, 182]
            os.makedirs(release / 'annotations', exist_ok=True)
            savemat(release / 'annotations' / f'{stem}.mat', {'S': labels})
    assert convert_coco_stuff10k(str(release), str(out)) == dict(
        train=1, test=1)
    png = np.array(Image.open(
        out / 'annotations/test2014/COCO_train2014_000000000139'
        '_labelTrainIds.png'))
    # 0 unlabelled; COCO id 12 is unused (-> 0); 13 is the 12th class
    assert png[0, :6].tolist() == [0, 1, 11, 12, 0, 171]
    assert 12 in COCO_UNUSED_IDS
    dataset = _dataset('coco-stuff10k.py', out)
    assert len(dataset.metainfo['classes']) == 171
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    assert gt[0, :6].tolist() == [255, 0, 10, 11, 255, 170]
    assert _perfect_score(dataset) == 100.0
    train = _dataset('coco-stuff10k.py', out, split='train')
    values = set(train[0]['data_samples'].gt_sem_seg.data.unique().tolist())
    assert values <= {255, 0, 10, 11, 170}
