"""Fully convolutional head: convs and a classifier (OCR's auxiliary head)."""
from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from hrformer_seg.registry import MODELS
from .decode_head import BaseDecodeHead


@MODELS.register_module()
class FCNHead(BaseDecodeHead):
    """``num_convs`` conv+norm+act layers, optionally a concat with the input.

    Args:
        num_convs: number of ConvModules (0 needs ``in_channels == channels``).
        kernel_size: kernel size of the convs.
        concat_input: concatenate the input with the conv output and fuse
            them with one more ConvModule before the classifier.
        dilation: dilation of the convs.
        **kwargs: arguments of :class:`BaseDecodeHead`.
    """

    def __init__(self,
                 num_convs: int = 2,
                 kernel_size: int = 3,
                 concat_input: bool = True,
                 dilation: int = 1,
                 **kwargs) -> None:
        if num_convs < 0 or dilation < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f'FCNHead: need num_convs >= 0, dilation >= 1 and an odd '
                f'kernel_size, got {num_convs}, {dilation}, {kernel_size}')
        super().__init__(**kwargs)
        if num_convs == 0 and self.in_channels != self.channels:
            raise ValueError(
                f'FCNHead: num_convs=0 needs in_channels == channels, got '
                f'{self.in_channels} and {self.channels}')
        self.num_convs = num_convs
        self.kernel_size = kernel_size
        self.concat_input = concat_input
        padding = (kernel_size // 2) * dilation
        layers = []
        for i in range(num_convs):
            layers.append(
                ConvModule(
                    self.in_channels if i == 0 else self.channels,
                    self.channels,
                    kernel_size=kernel_size,
                    padding=padding,
                    dilation=dilation,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg))
        self.convs = nn.Sequential(*layers)
        if concat_input:
            self.conv_cat = ConvModule(
                self.in_channels + self.channels,
                self.channels,
                kernel_size=kernel_size,
                padding=kernel_size // 2,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg)

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Backbone outputs -> (N, channels, H, W) features."""
        x = self._transform_inputs(inputs)
        feats = self.convs(x)
        if self.concat_input:
            feats = self.conv_cat(torch.cat([x, feats], dim=1))
        return feats

    def _forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Backbone outputs -> (N, num_classes, H, W) logits (one stage)."""
        return self._checkpointed(self._logits, inputs)

    def _logits(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
