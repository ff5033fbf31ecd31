"""Normalises, pads and batches images (and labels) on the model's device."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from hrformer_seg.registry import MODELS


@MODELS.register_module()
class SegDataPreProcessor(BaseDataPreprocessor):
    """Turns the collated pipeline output into a batch tensor.

    Steps: move to the device (``cast_data``), BGR -> RGB (3-channel images
    only), ``(img - mean) / std`` in float32, pad every image on the right
    and bottom with ``pad_val`` (after normalisation, as in MMSegmentation)
    and stack. Training labels are padded alike with ``seg_pad_val``.

    Target size of a batch: ``size`` if given (an image larger than it is an
    error); otherwise the largest height and width in the batch, rounded up
    to a multiple of ``size_divisor`` if given. In test mode ``size`` and
    ``size_divisor`` come from ``test_cfg`` instead (whole-image testing
    uses larger images than the training crops), so images of different
    sizes batch in both modes.

    Each data sample gets the metainfo ``img_shape`` (unpadded H, W),
    ``pad_shape`` and ``batch_input_shape`` (padded H, W) and
    ``padding_size`` = (left, right, top, bottom).

    Args:
        mean: per-channel mean (of the RGB image when ``bgr_to_rgb``);
            None together with ``std`` disables normalisation.
        std: per-channel standard deviation.
        size: fixed training batch size (H, W).
        size_divisor: training batch H and W are rounded up to a multiple.
        pad_val: image padding value (in normalised units).
        seg_pad_val: label padding value.
        bgr_to_rgb: reverse the channel order of 3-channel images.
        rgb_to_bgr: same operation; both may not be set.
        test_cfg: ``dict(size=..., size_divisor=...)`` for test mode.
        non_blocking: non-blocking host-to-device copies.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 size: Optional[Sequence[int]] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: float = 0,
                 seg_pad_val: int = 255,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 test_cfg: Optional[dict] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking)
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError('SegDataPreProcessor: bgr_to_rgb and rgb_to_bgr '
                             'cannot both be set')
        if (mean is None) != (std is None):
            raise ValueError('SegDataPreProcessor: give both mean and std or '
                             'neither')
        self.channel_conversion = bgr_to_rgb or rgb_to_bgr
        self._enable_normalize = mean is not None
        if mean is not None:
            if len(mean) != len(std):
                raise ValueError(
                    f'SegDataPreProcessor: mean has {len(mean)} values but '
                    f'std has {len(std)}')
            self.register_buffer(
                'mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1),
                persistent=False)
            self.register_buffer(
                'std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1),
                persistent=False)
        self.size = _check_size(size, 'size')
        self.size_divisor = _check_divisor(size_divisor, 'size_divisor')
        test_cfg = dict(test_cfg or {})
        unknown = set(test_cfg) - {'size', 'size_divisor'}
        if unknown:
            raise KeyError(f'SegDataPreProcessor: unknown test_cfg keys '
                           f'{sorted(unknown)}')
        self.test_size = _check_size(test_cfg.get('size'), 'test_cfg.size')
        self.test_size_divisor = _check_divisor(
            test_cfg.get('size_divisor'), 'test_cfg.size_divisor')
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def forward(self, data: dict, training: bool = False) -> Dict:
        """Normalises and pads the images (and training labels).

        Args:
            data: ``dict(inputs=[(C, H_i, W_i) uint8 tensors] or an
                (N, C, H, W) tensor, data_samples=[SegDataSample] or None)``.
            training: pad labels and use ``size``/``size_divisor``.

        Returns:
            ``dict(inputs=(N, C, H, W) float tensor, data_samples=list)``.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        data_samples = data.get('data_samples')
        if isinstance(inputs, torch.Tensor):
            inputs = list(inputs)
        if len(inputs) == 0:
            raise ValueError('SegDataPreProcessor: empty batch')
        if data_samples is not None and len(data_samples) != len(inputs):
            raise ValueError(
                f'SegDataPreProcessor: {len(inputs)} images but '
                f'{len(data_samples)} data samples')
        if training and data_samples is None:
            raise ValueError(
                'SegDataPreProcessor: training needs data_samples with '
                'gt_sem_seg')

        images = [self._normalize(img) for img in inputs]
        size = self.size if training else self.test_size
        divisor = self.size_divisor if training else self.test_size_divisor
        target = _target_shape([img.shape[-2:] for img in images], size,
                               divisor)
        batch = images[0].new_full(
            (len(images), images[0].shape[0]) + target, self.pad_val)
        for i, img in enumerate(images):
            if img.shape[0] != batch.shape[1]:
                raise ValueError(
                    f'SegDataPreProcessor: images with {img.shape[0]} and '
                    f'{batch.shape[1]} channels in one batch')
            batch[i, :, :img.shape[-2], :img.shape[-1]] = img

        if data_samples is not None:
            for img, sample in zip(images, data_samples):
                h, w = img.shape[-2:]
                sample.set_metainfo(
                    dict(
                        img_shape=(h, w),
                        pad_shape=target,
                        batch_input_shape=target,
                        padding_size=[0, target[1] - w, 0, target[0] - h]))
                if training:
                    self._pad_label(sample, (h, w), target)
        return dict(inputs=batch, data_samples=data_samples)

    def _normalize(self, img: torch.Tensor) -> torch.Tensor:
        """(C, H, W) image -> float32, channel order converted, normalised."""
        if img.dim() != 3:
            raise ValueError(f'SegDataPreProcessor: images must be (C, H, W), '
                             f'got shape {tuple(img.shape)}')
        if self.channel_conversion and img.shape[0] == 3:
            img = img.flip(0)
        img = img.float()
        if self._enable_normalize:
            if self.mean.shape[0] not in (1, img.shape[0]):
                raise ValueError(
                    f'SegDataPreProcessor: mean/std have {self.mean.shape[0]}'
                    f' values but the image has {img.shape[0]} channels')
            img = (img - self.mean) / self.std
        return img

    def _pad_label(self, sample, img_shape: Tuple[int, int],
                   target: Tuple[int, int]) -> None:
        """Pads ``sample.gt_sem_seg`` (1, H, W) to ``target`` in place."""
        if 'gt_sem_seg' not in sample:
            raise ValueError(
                'SegDataPreProcessor: a training data sample has no '
                f'gt_sem_seg (img_path={sample.metainfo.get("img_path")})')
        label = sample.gt_sem_seg.data
        if tuple(label.shape[-2:]) != tuple(img_shape):
            raise ValueError(
                f'SegDataPreProcessor: label {tuple(label.shape[-2:])} and '
                f'image {tuple(img_shape)} differ in size '
                f'(img_path={sample.metainfo.get("img_path")})')
        pad = (0, target[1] - img_shape[1], 0, target[0] - img_shape[0])
        if any(pad):
            label = F.pad(label, pad, value=self.seg_pad_val)
        # PixelData fixes its size: replace it, keeping its metainfo
        sample.gt_sem_seg = sample.gt_sem_seg.new(data=label)


def _check_size(size: Optional[Sequence[int]],
                key: str) -> Optional[Tuple[int, int]]:
    if size is None:
        return None
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f'SegDataPreProcessor: {key} must be (H, W) with '
                         f'positive entries, got {size!r}')
    return int(size[0]), int(size[1])


def _check_divisor(divisor: Optional[int], key: str) -> Optional[int]:
    if divisor is not None and divisor < 1:
        raise ValueError(
            f'SegDataPreProcessor: {key} must be >= 1, got {divisor!r}')
    return divisor


def _target_shape(shapes: List[Sequence[int]], size: Optional[Tuple[int,
                                                                    int]],
                  divisor: Optional[int]) -> Tuple[int, int]:
    """Padded (H, W) of a batch of images with the given (H, W) shapes."""
    max_h = max(int(s[0]) for s in shapes)
    max_w = max(int(s[1]) for s in shapes)
    if size is not None:
        if max_h > size[0] or max_w > size[1]:
            raise ValueError(
                f'SegDataPreProcessor: an image of {max_h}x{max_w} does not '
                f'fit the padding size {size[0]}x{size[1]}')
        return size
    if divisor is not None:
        max_h = math.ceil(max_h / divisor) * divisor
        max_w = math.ceil(max_w / divisor) * divisor
    return max_h, max_w
