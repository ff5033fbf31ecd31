"""PackSegInputs, and whole pipelines (train, test, ms+flip TTA) packed."""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.registry import DefaultScope

from hrformer_seg.datasets import CityscapesDataset
from hrformer_seg.datasets.transforms import PackSegInputs
from hrformer_seg.registry import TRANSFORMS

# The ms+flip test pipeline of docs/training_recipe.md (scales relative to
# the image).
IMG_RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
TTA_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale_factor=r, keep_ratio=True)
              for r in IMG_RATIOS],
             [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
              dict(type='RandomFlip', prob=1.0, direction='horizontal')],
             [dict(type='LoadAnnotations', num_classes=19)],
             [dict(type='PackSegInputs')],
         ]),
]


def test_pack_contract():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    seg = rng.integers(0, 19, (6, 9), dtype=np.uint8)
    out = PackSegInputs()(dict(img=img, gt_seg_map=seg, img_path='a.png',
                               seg_map_path='a_label.png', ori_shape=(12, 18),
                               img_shape=(6, 9), scale_factor=(0.5, 0.5),
                               flip=True, flip_direction='horizontal',
                               reduce_zero_label=False, other='dropped'))
    assert out['inputs'].shape == (3, 6, 9)
    assert out['inputs'].dtype == torch.uint8
    assert torch.equal(out['inputs'], torch.from_numpy(img).permute(2, 0, 1))
    gt = out['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 6, 9) and gt.dtype == torch.int64
    assert torch.equal(gt[0], torch.from_numpy(seg).long())
    meta = out['data_samples'].metainfo
    assert meta == dict(img_path='a.png', seg_map_path='a_label.png',
                        ori_shape=(12, 18), img_shape=(6, 9),
                        pad_shape=(6, 9), scale_factor=(0.5, 0.5), flip=True,
                        flip_direction='horizontal', reduce_zero_label=False)


def test_pack_defaults_for_an_untransformed_image():
    img = np.zeros((4, 5), np.uint8)  # grey image gets a channel axis
    out = PackSegInputs()(dict(img=img, img_shape=(4, 5), ori_shape=(4, 5)))
    assert out['inputs'].shape == (1, 4, 5)
    meta = out['data_samples'].metainfo
    assert meta['flip'] is False and meta['flip_direction'] is None
    assert meta['scale_factor'] == (1.0, 1.0) and meta['pad_shape'] == (4, 5)
    assert 'gt_sem_seg' not in out['data_samples']


def test_pack_rejects_misaligned_label():
    with pytest.raises(ValueError, match='b.png'):
        PackSegInputs()(dict(img=np.zeros((4, 5, 3), np.uint8),
                             gt_seg_map=np.zeros((5, 4), np.uint8),
                             img_path='b.png', ori_shape=(8, 10)))
    # label at the original size (test pipelines) is fine
    out = PackSegInputs()(dict(img=np.zeros((4, 5, 3), np.uint8),
                               gt_seg_map=np.zeros((8, 10), np.uint8),
                               img_path='b.png', ori_shape=(8, 10)))
    assert out['data_samples'].gt_sem_seg.shape == (8, 10)


def test_reference_train_pipeline(tiny_cityscapes):
    """The train pipeline of docs/training_recipe.md, scaled to the 64x128
    fixture."""
    ds = CityscapesDataset(data_root=str(tiny_cityscapes), pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', num_classes=19),
        dict(type='RandomResize', scale=(128, 64), ratio_range=(0.5, 2.0),
             keep_ratio=True),
        dict(type='RandomCrop', crop_size=(32, 64), cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs')])
    np.random.seed(0)
    for i in range(len(ds)):
        out = ds[i]
        h, w = out['inputs'].shape[1:]
        assert h <= 32 and w <= 64
        sample = out['data_samples']
        assert sample.gt_sem_seg.data.shape == (1, h, w)
        assert sample.img_shape == (h, w) and sample.ori_shape == (64, 128)
        assert set(sample.gt_sem_seg.data.unique().tolist()) <= \
            set(range(19)) | {255}


def test_ms_flip_tta_pipeline(tiny_cityscapes):
    ds = CityscapesDataset(
        data_root=str(tiny_cityscapes),
        data_prefix=dict(img_path='leftImg8bit/val',
                         seg_map_path='gtFine/val'),
        pipeline=TTA_PIPELINE, test_mode=True)
    out = ds[0]
    assert len(out['inputs']) == len(out['data_samples']) == 12
    plain = Compose([TRANSFORMS.build(dict(type='LoadImageFromFile'))])(
        ds.get_data_info(0))['img']
    for k, (inputs, sample) in enumerate(zip(out['inputs'],
                                             out['data_samples'])):
        ratio, flipped = IMG_RATIOS[k // 2], bool(k % 2)
        h, w = int(64 * ratio + 0.5), int(128 * ratio + 0.5)
        assert inputs.shape == (3, h, w)
        assert sample.img_shape == (h, w) and sample.ori_shape == (64, 128)
        assert sample.flip is flipped
        assert sample.flip_direction == ('horizontal' if flipped else None)
        assert sample.scale_factor == pytest.approx((w / 128, h / 64))
        # labels stay at the original size for evaluation
        assert sample.gt_sem_seg.data.shape == (1, 64, 128)
        if ratio == 1.0:
            img = inputs.permute(1, 2, 0).numpy()
            expect = plain[:, ::-1] if flipped else plain
            assert np.array_equal(img, expect)


def test_tta_inside_a_runner_scope(tiny_cityscapes):
    """In a runner (default_scope='hrformer_seg') the same config builds."""
    with DefaultScope.overwrite_default_scope('hrformer_seg'):
        t = TRANSFORMS.build(TTA_PIPELINE[1])
    assert type(t.subroutines[0].transforms[-1]) is PackSegInputs
