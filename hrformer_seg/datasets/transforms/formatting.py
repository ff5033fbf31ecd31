"""Packing a transformed sample into the model's input format."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from hrformer_seg.registry import TRANSFORMS
from hrformer_seg.structures import SegDataSample

META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
             'pad_shape', 'scale_factor', 'flip', 'flip_direction',
             'reduce_zero_label')


@TRANSFORMS.register_module()
class PackSegInputs(BaseTransform):
    """Pack an image and its label map for the segmentor.

    Output: ``inputs`` (C, H, W) tensor of the image's dtype (uint8 BGR for
    the default loaders; normalisation happens in the data preprocessor) and
    ``data_samples``, a :class:`SegDataSample` with ``gt_sem_seg`` (1, H, W)
    int64 when the results have a ``gt_seg_map``, and the metainfo listed in
    ``meta_keys``. The label map has the image's size in training and the
    original size in test pipelines that load it after resizing (metrics
    compare predictions resized back to ``ori_shape``).

    Keys of ``meta_keys`` the pipeline did not set get the value of an
    untransformed image so that the segmentor can always undo the
    transforms: ``flip=False``, ``flip_direction=None``,
    ``scale_factor=(1.0, 1.0)``, ``pad_shape=img_shape``. Other missing keys
    are left out.

    Args:
        meta_keys: keys of the results copied into the metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0,
                                                                     1)))
        sample = SegDataSample()
        seg = results.get('gt_seg_map')
        if seg is not None:
            ori = tuple(results.get('ori_shape', img.shape[:2]))[:2]
            if seg.shape[:2] not in (img.shape[:2], ori):
                raise ValueError(
                    f'PackSegInputs: label map {seg.shape[:2]} matches '
                    f'neither the image {img.shape[:2]} nor the original '
                    f'size {ori} for {results.get("img_path")}')
            sample.gt_sem_seg = PixelData(
                data=torch.from_numpy(seg[None].astype(np.int64)))

        defaults = dict(flip=False, flip_direction=None,
                        scale_factor=(1.0, 1.0),
                        pad_shape=results.get('img_shape', img.shape[:2]))
        meta = {}
        for key in self.meta_keys:
            if key in results:
                meta[key] = results[key]
            elif key in defaults:
                meta[key] = defaults[key]
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
