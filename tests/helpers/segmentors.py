"""Helpers of the segmentor tests: a tiny stand-in backbone, configs."""
from typing import Tuple

import torch
import torch.nn as nn
from mmengine.structures import PixelData

from hrformer_seg.registry import MODELS
from hrformer_seg.structures import SegDataSample

TINY_CHANNELS = (4, 6, 8, 10)


@MODELS.register_module(force=True)
class TinySegTestBackbone(nn.Module):
    """Four strided convs: outputs at strides 4, 8, 16, 32 (like HRFormer)."""

    def __init__(self, in_channels: int = 3,
                 channels: Tuple[int, ...] = TINY_CHANNELS) -> None:
        super().__init__()
        layers = []
        prev = in_channels
        for i, c in enumerate(channels):
            stride = 4 if i == 0 else 2
            layers.append(nn.Sequential(
                nn.Conv2d(prev, c, 3, stride=stride, padding=1),
                nn.BatchNorm2d(c), nn.ReLU()))
            prev = c
        self.stages = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return tuple(outs)


def _head_cfg(head_type: str, num_classes: int, loss_weight: float,
              **fields) -> dict:
    """A head config on the four TinySegTestBackbone outputs."""
    return dict(
        type=head_type,
        in_channels=list(TINY_CHANNELS),
        in_index=(0, 1, 2, 3),
        input_transform='resize_concat',
        channels=8,
        dropout_ratio=-1,
        num_classes=num_classes,
        norm_cfg=dict(type='BN'),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=loss_weight),
        **fields)


def fcn_cfg(num_classes: int = 5, **kwargs) -> dict:
    cfg = _head_cfg('FCNHead', num_classes, 0.4, num_convs=1, kernel_size=3,
                    concat_input=False)
    cfg.update(kwargs)
    return cfg


def ocr_cfg(num_classes: int = 5, **kwargs) -> dict:
    cfg = _head_cfg('OCRHead', num_classes, 1.0, ocr_channels=4)
    cfg.update(kwargs)
    return cfg


def cascade_cfg(num_classes: int = 5, **kwargs) -> dict:
    cfg = dict(
        type='CascadeEncoderDecoder',
        num_stages=2,
        backbone=dict(type='TinySegTestBackbone'),
        decode_head=dict(fcn=fcn_cfg(num_classes), ocr=ocr_cfg(num_classes)),
        test_cfg=dict(mode='whole'))
    cfg.update(kwargs)
    return cfg


def sample_with_label(label: torch.Tensor, **metainfo) -> SegDataSample:
    """A SegDataSample with gt_sem_seg (1, H, W) and the given metainfo."""
    sample = SegDataSample(metainfo=metainfo)
    sample.gt_sem_seg = PixelData(
        data=label.long().reshape(1, *label.shape[-2:]))
    return sample
