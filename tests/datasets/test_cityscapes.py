"""CityscapesDataset on a generated tree with the real layout."""
import os
import shutil

import numpy as np
import pytest
import torch
from cityscapesscripts.helpers.labels import trainId2label

from hrformer_seg.datasets import CityscapesDataset
from hrformer_seg.registry import DATASETS
from hrformer_seg.structures import SegDataSample


def make(root, split='train', **kwargs):
    kwargs.setdefault('data_prefix', dict(img_path=f'leftImg8bit/{split}',
                                          seg_map_path=f'gtFine/{split}'))
    return CityscapesDataset(data_root=str(root), **kwargs)


def test_metainfo_is_the_official_one():
    meta = CityscapesDataset.METAINFO
    assert len(meta['classes']) == 19 == len(meta['palette'])
    for train_id, (name, colour) in enumerate(zip(meta['classes'],
                                                  meta['palette'])):
        assert trainId2label[train_id].name == name
        assert tuple(trainId2label[train_id].color) == tuple(colour)


def test_pairs_images_with_labels(tiny_cityscapes):
    ds = make(tiny_cityscapes)
    assert len(ds) == 4
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    paths = [i['img_path'] for i in infos]
    assert paths == sorted(paths)
    on_disk = sorted(str(p) for p in
                     (tiny_cityscapes / 'leftImg8bit/train').rglob('*.png'))
    assert paths == on_disk
    for info in infos:
        stem = os.path.basename(info['img_path'])[:-len('_leftImg8bit.png')]
        assert info['seg_map_path'].endswith(
            os.path.join(os.path.basename(os.path.dirname(info['img_path'])),
                         stem + '_gtFine_labelTrainIds.png'))
        assert os.path.isfile(info['seg_map_path'])
        assert info['label_map'] is None
        assert info['reduce_zero_label'] is False
        assert info['seg_fields'] == []
    assert ds.metainfo['classes'] == CityscapesDataset.METAINFO['classes']
    assert len(make(tiny_cityscapes, 'val')) == 2


def test_registry_and_split_list(tiny_cityscapes):
    ds = DATASETS.build(dict(
        type='CityscapesDataset', data_root=str(tiny_cityscapes),
        ann_file='train.txt'))
    assert [d['img_path'] for d in ds.load_data_list()] == \
        [d['img_path'] for d in make(tiny_cityscapes).load_data_list()]


def test_test_split_without_labels(tiny_cityscapes):
    ds = make(tiny_cityscapes, data_prefix=dict(
        img_path='leftImg8bit/test', seg_map_path=None), test_mode=True)
    assert len(ds) == 1
    assert ds.get_data_info(0)['seg_map_path'] is None


def test_class_subset_builds_a_label_map(tiny_cityscapes):
    ds = make(tiny_cityscapes, metainfo=dict(classes=('road', 'car')))
    label_map = ds.get_data_info(0)['label_map']
    assert label_map[0] == 0 and label_map[13] == 1
    assert all(v == 255 for k, v in label_map.items() if k not in (0, 13))
    assert ds.metainfo['palette'] == [[128, 64, 128], [0, 0, 142]]
    with pytest.raises(ValueError, match='unicorn'):
        make(tiny_cityscapes, metainfo=dict(classes=('road', 'unicorn')))


def test_getitem_runs_the_pipeline(tiny_cityscapes):
    ds = make(tiny_cityscapes, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', num_classes=19),
        dict(type='RandomFlip', prob=1.0),
        dict(type='PackSegInputs')])
    out = ds[1]
    assert out['inputs'].shape == (3, 64, 128)
    assert out['inputs'].dtype == torch.uint8
    sample = out['data_samples']
    assert isinstance(sample, SegDataSample)
    assert sample.gt_sem_seg.data.shape == (1, 64, 128)
    assert sample.flip is True and sample.flip_direction == 'horizontal'
    assert sample.ori_shape == (64, 128)
    assert sample.img_path == ds.get_data_info(1)['img_path']
    labels = set(torch.unique(sample.gt_sem_seg.data).tolist())
    assert labels <= set(range(19)) | {255} and len(labels) >= 4


@pytest.fixture
def tree_copy(tiny_cityscapes, tmp_path):
    root = tmp_path / 'cityscapes'
    shutil.copytree(tiny_cityscapes, root)
    return root


def test_missing_image_folder(tree_copy):
    shutil.rmtree(tree_copy / 'leftImg8bit' / 'train')
    with pytest.raises(FileNotFoundError,
                       match=str(tree_copy / 'leftImg8bit' / 'train')):
        make(tree_copy)


def test_missing_label_folder_says_how_to_convert(tree_copy):
    shutil.rmtree(tree_copy / 'gtFine' / 'val')
    with pytest.raises(FileNotFoundError) as err:
        make(tree_copy, 'val')
    assert str(tree_copy / 'gtFine' / 'val') in str(err.value)
    assert 'tools/dataset_converters/cityscapes.py' in str(err.value)


def test_missing_label_map_is_named(tree_copy):
    victim = sorted((tree_copy / 'gtFine' / 'train').rglob(
        '*_labelTrainIds.png'))[2]
    victim.unlink()
    with pytest.raises(FileNotFoundError) as err:
        make(tree_copy)
    msg = str(err.value)
    assert str(victim) in msg and '1 of 4' in msg
    assert 'python tools/dataset_converters/cityscapes.py ' \
           'data/cityscapes --nproc 8' in msg


def test_empty_split(tree_copy):
    for p in (tree_copy / 'leftImg8bit' / 'val').rglob('*.png'):
        p.unlink()
    with pytest.raises(ValueError, match='empty') as err:
        make(tree_copy, 'val')
    assert str(tree_copy / 'leftImg8bit' / 'val') in str(err.value)


def test_lazy_init_defers_the_check(tree_copy):
    shutil.rmtree(tree_copy / 'gtFine' / 'train')
    ds = make(tree_copy, lazy_init=True)
    with pytest.raises(FileNotFoundError):
        ds.full_init()


def test_split_list_naming_a_missing_image(tree_copy):
    (tree_copy / 'train.txt').write_text('aachen/aachen_000099_000019\n')
    with pytest.raises(FileNotFoundError,
                       match='aachen_000099_000019_leftImg8bit.png'):
        make(tree_copy, ann_file='train.txt')


def test_sorted_whatever_the_listing_order(tiny_cityscapes):
    a = [d['img_path'] for d in make(tiny_cityscapes).load_data_list()]
    assert a == sorted(a) and len(set(a)) == len(a)
    assert np.all([p.endswith('_leftImg8bit.png') for p in a])
