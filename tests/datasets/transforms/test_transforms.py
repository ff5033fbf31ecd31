"""RandomCrop, PhotoMetricDistortion, and mmcv's Resize/RandomFlip on
label maps, with the image and the labels kept aligned."""
import mmcv
import numpy as np
import pytest
from mmcv.transforms import RandomFlip, RandomResize, Resize

from hrformer_seg.datasets.transforms import PhotoMetricDistortion, RandomCrop


def coord_sample(h=30, w=50):
    """An image whose pixels encode their coordinates, and a label map that
    is a function of the same coordinates."""
    ys, xs = np.mgrid[0:h, 0:w]
    img = np.stack([ys, xs, np.zeros_like(ys)], -1).astype(np.uint8)
    label = ((ys // 3 + xs // 4) % 19).astype(np.uint8)
    return dict(img=img, gt_seg_map=label, img_shape=(h, w), ori_shape=(h, w),
                seg_fields=['gt_seg_map'])


def label_of(img):
    """The label the coordinate image says each pixel must have."""
    ys, xs = img[..., 0].astype(int), img[..., 1].astype(int)
    return ((ys // 3 + xs // 4) % 19).astype(np.uint8)


def test_crop_keeps_image_and_label_aligned():
    np.random.seed(0)
    for _ in range(20):
        out = RandomCrop((12, 20))(coord_sample())
        assert out['img'].shape == (12, 20, 3)
        assert out['gt_seg_map'].shape == (12, 20)
        assert out['img_shape'] == (12, 20)
        assert np.array_equal(out['gt_seg_map'], label_of(out['img']))
        # a contiguous window of the original
        y0, x0 = out['img'][0, 0, :2]
        assert np.array_equal(out['img'][..., 0],
                              np.arange(y0, y0 + 12)[:, None].repeat(20, 1))
        assert np.array_equal(out['img'][..., 1],
                              np.arange(x0, x0 + 20)[None].repeat(12, 0))


def test_crop_larger_than_image_keeps_the_image():
    out = RandomCrop((100, 100))(coord_sample(30, 50))
    assert out['img'].shape == (30, 50, 3)
    out = RandomCrop(16)(coord_sample(30, 50))
    assert out['img'].shape == (16, 16, 3)


class RecordingCrop(RandomCrop):
    """Remembers every window drawn."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.drawn = []

    def crop_bbox(self, img):
        bbox = super().crop_bbox(img)
        self.drawn.append(bbox)
        return bbox


def balanced(seg, ratio, ignore=255):
    labels, counts = np.unique(seg, return_counts=True)
    counts = counts[labels != ignore]
    return len(counts) > 1 and counts.max() / counts.sum() < ratio


def test_cat_max_ratio_picks_the_first_balanced_of_ten_windows():
    # 10x40 map: columns 0-29 class 0, 30-39 class 1; 10x10 windows start
    # at x in 0..30 and are balanced (< 75% of one class) for x in 23..27.
    label = np.zeros((10, 40), np.uint8)
    label[:, 30:] = 1
    img = np.zeros((10, 40, 3), np.uint8)
    img[..., 1] = np.arange(40)
    hits = 0
    for seed in range(300):
        np.random.seed(seed)
        t = RecordingCrop((10, 10), cat_max_ratio=0.75)
        out = t(dict(img=img.copy(), gt_seg_map=label.copy()))
        x0 = int(out['img'][0, 0, 1])
        ok = [balanced(label[:, b[2]:b[3]], 0.75) for b in t.drawn]
        assert len(t.drawn) <= 10
        if any(ok):
            first = t.drawn[ok.index(True)]
            assert x0 == first[2] and len(t.drawn) == ok.index(True) + 1
            hits += 1
        else:
            assert len(t.drawn) == 10 and x0 == t.drawn[-1][2]
        assert np.array_equal(out['gt_seg_map'], label[:, x0:x0 + 10])
    # P(balanced within 10 draws) = 1 - (26/31)^10 = 0.83
    assert 0.75 < hits / 300 < 0.9


def test_cat_max_ratio_ignores_ignored_pixels():
    label = np.full((10, 10), 255, np.uint8)
    label[0, :5], label[0, 5:] = 0, 1  # 80% ignored, 50/50 otherwise
    t = RecordingCrop((10, 10), cat_max_ratio=0.75)
    t(dict(img=np.zeros((10, 10, 3), np.uint8), gt_seg_map=label))
    assert len(t.drawn) == 1


def test_crop_without_labels():
    out = RandomCrop((5, 5), cat_max_ratio=0.75)(
        dict(img=np.zeros((10, 10, 3), np.uint8)))
    assert out['img'].shape == (5, 5, 3)


@pytest.mark.parametrize('factor', [0.5, 0.75, 1.5, 2.0])
def test_mmcv_resize_is_nearest_on_labels(factor):
    sample = coord_sample(40, 60)
    values = {0, 5, 18, 255}
    rng = np.random.default_rng(1)
    label = rng.choice(sorted(values), (40, 60)).astype(np.uint8)
    sample['gt_seg_map'] = label
    out = Resize(scale_factor=factor, keep_ratio=True)(sample)
    h, w = out['img'].shape[:2]
    assert (h, w) == (int(40 * factor + 0.5), int(60 * factor + 0.5))
    assert out['gt_seg_map'].shape == (h, w)
    assert set(np.unique(out['gt_seg_map']).tolist()) <= values
    assert out['scale_factor'] == pytest.approx((w / 60, h / 40))
    # nearest: each output label is the label of some input pixel nearby
    expect = mmcv.imresize(label, (w, h), interpolation='nearest')
    assert np.array_equal(out['gt_seg_map'], expect)


def test_mmcv_random_resize_and_flip_keep_alignment():
    np.random.seed(3)
    sample = coord_sample(30, 50)
    out = RandomResize(scale=(100, 60), ratio_range=(0.5, 2.0),
                       keep_ratio=True)(sample)
    assert out['img'].shape[:2] == out['gt_seg_map'].shape
    out = RandomFlip(prob=1.0)(coord_sample())
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    assert np.array_equal(out['gt_seg_map'], label_of(out['img']))
    assert out['img'][0, 0, 1] == 49  # the last column came first
    out = RandomFlip(prob=0.0)(coord_sample())
    assert out['flip'] is False and out['img'][0, 0, 1] == 0


def test_photometric_distortion_contract():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    label = rng.integers(0, 19, (16, 24), dtype=np.uint8)
    np.random.seed(0)
    changed = 0
    for _ in range(20):
        out = PhotoMetricDistortion()(dict(img=img.copy(),
                                           gt_seg_map=label.copy()))
        assert out['img'].dtype == np.uint8 and out['img'].shape == img.shape
        assert np.array_equal(out['gt_seg_map'], label)
        changed += not np.array_equal(out['img'], img)
    assert changed >= 15  # 1/16 chance per call of no change at all


def test_brightness_only_adds_one_delta():
    img = np.full((8, 8, 3), 100, np.uint8)
    img[0, 0] = 250
    t = PhotoMetricDistortion(brightness_delta=32, contrast_range=(1, 1),
                              saturation_range=(1, 1), hue_delta=0)
    np.random.seed(0)
    deltas = set()
    for _ in range(40):
        out = t(dict(img=img.copy()))['img'].astype(int)
        d = out[1:, 1:] - 100
        assert len(np.unique(d)) == 1 and abs(d.flat[0]) <= 32
        deltas.add(int(d.flat[0]))
    assert 0 in deltas and len(deltas) > 5  # applied about half the time


def test_saturation_and_hue_leave_grey_grey():
    grey = np.full((8, 8, 3), 120, np.uint8)
    t = PhotoMetricDistortion(brightness_delta=0, contrast_range=(1, 1))
    np.random.seed(0)
    for _ in range(10):
        out = t(dict(img=grey.copy()))['img'].astype(int)
        assert np.abs(out - 120).max() <= 1


def test_hue_shift_is_bounded():
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 2] = 255  # pure red in BGR: hue 0
    t = PhotoMetricDistortion(brightness_delta=0, contrast_range=(1, 1),
                              saturation_range=(1, 1), hue_delta=18)
    np.random.seed(0)
    for _ in range(20):
        hue = mmcv.bgr2hsv(t(dict(img=img.copy()))['img'])[..., 0].astype(int)
        shift = np.minimum(hue, 180 - hue)
        assert shift.max() <= 18
