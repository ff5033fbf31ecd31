"""Geometric and photometric augmentations for segmentation.

Resizing and flipping come from mmcv (``Resize``, ``RandomResize``,
``RandomFlip``): they resize ``gt_seg_map`` with nearest-neighbour
interpolation and flip it together with the image.
"""
from typing import Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from hrformer_seg.registry import TRANSFORMS


def _seg_keys(results: dict) -> list:
    keys = list(results.get('seg_fields', []))
    if 'gt_seg_map' in results and 'gt_seg_map' not in keys:
        keys.append('gt_seg_map')
    return keys


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Crop a random window of the image and its label maps.

    With ``cat_max_ratio < 1`` up to 10 windows are drawn until one has at
    least two classes and no class covering ``cat_max_ratio`` or more of the
    labelled (non-ignored) pixels; the last window drawn is used otherwise.
    An image smaller than the window is cropped to its own size (padding is
    left to the data preprocessor), as in MMSegmentation.

    Required keys: ``img``; optional ``gt_seg_map`` and ``seg_fields``.
    Modified keys: ``img``, ``img_shape``, the label maps.

    Args:
        crop_size: (h, w) of the window, or one int for a square.
        cat_max_ratio: largest share of one class in the window.
        ignore_index: label value not counted in the share.
    """

    def __init__(self,
                 crop_size: Union[int, Tuple[int, int]],
                 cat_max_ratio: float = 1.0,
                 ignore_index: int = 255) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        crop_size = tuple(crop_size)
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'crop_size must be a positive (h, w), got '
                             f'{crop_size}')
        self.crop_size = crop_size
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    @cache_randomness
    def crop_bbox(self, img: np.ndarray) -> Tuple[int, int, int, int]:
        """A random window (y1, y2, x1, x2) inside the image."""
        margin_h = max(img.shape[0] - self.crop_size[0], 0)
        margin_w = max(img.shape[1] - self.crop_size[1], 0)
        y1 = np.random.randint(0, margin_h + 1)
        x1 = np.random.randint(0, margin_w + 1)
        return (y1, y1 + min(self.crop_size[0], img.shape[0]), x1,
                x1 + min(self.crop_size[1], img.shape[1]))

    @staticmethod
    def crop(img: np.ndarray, bbox: Tuple[int, int, int, int]) -> np.ndarray:
        y1, y2, x1, x2 = bbox
        return img[y1:y2, x1:x2, ...]

    def _balanced(self, seg: np.ndarray) -> bool:
        labels, counts = np.unique(seg, return_counts=True)
        counts = counts[labels != self.ignore_index]
        return len(counts) > 1 and \
            counts.max() / counts.sum() < self.cat_max_ratio

    def transform(self, results: dict) -> dict:
        img = results['img']
        bbox = self.crop_bbox(img)
        seg = results.get('gt_seg_map')
        if self.cat_max_ratio < 1.0 and seg is not None:
            for _ in range(9):  # 10 windows in all
                if self._balanced(self.crop(seg, bbox)):
                    break
                bbox = self.crop_bbox(img)
        results['img'] = self.crop(img, bbox)
        results['img_shape'] = results['img'].shape[:2]
        for key in _seg_keys(results):
            results[key] = self.crop(results[key], bbox)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_size={self.crop_size}, '
                f'cat_max_ratio={self.cat_max_ratio}, '
                f'ignore_index={self.ignore_index})')


@TRANSFORMS.register_module()
class PhotoMetricDistortion(BaseTransform):
    """Random brightness, contrast, saturation and hue, as in MMSegmentation.

    Each step happens with probability 0.5: brightness (add a value drawn
    from [-brightness_delta, brightness_delta]), contrast (multiply by a
    value from ``contrast_range``) either first or last (coin flip),
    saturation (scale the HSV S channel) and hue (shift the HSV H channel by
    an integer in [-hue_delta, hue_delta] on OpenCV's 0-179 scale). The
    image is BGR uint8 (H, W, 3) and stays uint8 (values clipped at every
    step).

    Required / modified keys: ``img``.

    Args:
        brightness_delta: brightness shift bound.
        contrast_range: (low, high) contrast factor.
        saturation_range: (low, high) saturation factor.
        hue_delta: hue shift bound.
    """

    def __init__(self,
                 brightness_delta: int = 32,
                 contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5),
                 hue_delta: int = 18) -> None:
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    @staticmethod
    def convert(img: np.ndarray, alpha: float = 1.0,
                beta: float = 0.0) -> np.ndarray:
        """``clip(img * alpha + beta)`` as uint8."""
        out = img.astype(np.float32) * alpha + beta
        return np.clip(out, 0, 255).astype(np.uint8)

    def brightness(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return self.convert(img, beta=np.random.uniform(
                -self.brightness_delta, self.brightness_delta))
        return img

    def contrast(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return self.convert(img, alpha=np.random.uniform(
                self.contrast_lower, self.contrast_upper))
        return img

    def saturation(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            hsv = mmcv.bgr2hsv(img)
            hsv[:, :, 1] = self.convert(hsv[:, :, 1], alpha=np.random.uniform(
                self.saturation_lower, self.saturation_upper))
            return mmcv.hsv2bgr(hsv)
        return img

    def hue(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            hsv = mmcv.bgr2hsv(img)
            shift = np.random.randint(-self.hue_delta, self.hue_delta + 1)
            hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + shift) % 180
            return mmcv.hsv2bgr(hsv)
        return img

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.dtype != np.uint8:
            raise TypeError(
                f'PhotoMetricDistortion expects a uint8 image, got '
                f'{img.dtype} for {results.get("img_path")}; put it before '
                'any float conversion')
        img = self.brightness(img)
        contrast_first = np.random.randint(2)
        if contrast_first:
            img = self.contrast(img)
        img = self.saturation(img)
        img = self.hue(img)
        if not contrast_first:
            img = self.contrast(img)
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness_delta='
                f'{self.brightness_delta}, contrast_range=('
                f'{self.contrast_lower}, {self.contrast_upper}), '
                f'saturation_range=({self.saturation_lower}, '
                f'{self.saturation_upper}), hue_delta={self.hue_delta})')
