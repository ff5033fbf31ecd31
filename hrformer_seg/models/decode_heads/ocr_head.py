"""Object-contextual representations (OCR) head: Yuan et al., ECCV 2020."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule

from hrformer_seg.models.layers import SplitConcatConv
from hrformer_seg.registry import MODELS
from .decode_head import BaseDecodeHead


def _no_autocast(x: torch.Tensor):
    """Float32 for what follows, also inside an autocast region."""
    return torch.autocast(x.device.type, enabled=False)


class SpatialGather(nn.Module):
    """Soft object regions -> one feature vector per region.

    Each class map of the coarse logits is turned into a distribution over
    pixels (softmax over H*W of ``scale * logits``); a region's feature is
    the expectation of the pixel features under that distribution. Computed
    in float32 under autocast: in bf16 these distributions over thousands
    of pixels cost accuracy in training (docs/cpu_precision.md).

    Args:
        scale: factor applied to the logits before the softmax.
    """

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, feats: torch.Tensor,
                region_logits: torch.Tensor) -> torch.Tensor:
        """Gathers region features.

        Args:
            feats: (N, C, H, W) pixel features.
            region_logits: (N, K, H, W) coarse class logits.

        Returns:
            (N, C, K, 1) region features.
        """
        if feats.shape[2:] != region_logits.shape[2:]:
            raise ValueError(
                f'SpatialGather: features {tuple(feats.shape)} and region '
                f'logits {tuple(region_logits.shape)} differ in size')
        n, c = feats.shape[:2]
        k = region_logits.shape[1]
        with _no_autocast(feats):
            weights = F.softmax(
                self.scale * region_logits.float().reshape(n, k, -1), dim=2)
            pixels = feats.float().reshape(n, c, -1).transpose(1, 2)
            regions = torch.bmm(weights, pixels)  # (N, K, C)
        return regions.transpose(1, 2).unsqueeze(3)


def _projection(in_channels: int, out_channels: int, num_convs: int,
                conv_cfg: Optional[dict], norm_cfg: Optional[dict],
                act_cfg: Optional[dict]) -> nn.Module:
    """``num_convs`` 1x1 conv+norm+act layers (one module when num_convs=1)."""
    layers = [
        ConvModule(
            in_channels if i == 0 else out_channels,
            out_channels,
            kernel_size=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg) for i in range(num_convs)
    ]
    return layers[0] if num_convs == 1 else nn.Sequential(*layers)


class ObjectAttentionBlock(nn.Module):
    """Attention of every pixel to the object-region features.

    query = two 1x1 conv+norm+act on the pixels, key = the same on the
    regions, value = one on the regions; the softmax over regions of
    ``query . key / sqrt(key_channels)`` weights the values; one more 1x1
    conv+norm+act maps the result back to ``in_channels`` (the object
    context); ``[context, pixels]`` is fused by a 1x1 conv+norm+act
    (``bottleneck``, a :class:`~hrformer_seg.models.layers.SplitConcatConv`:
    the ConvModule on the concatenation, computed without concatenating).

    Args:
        in_channels: channels of the pixel and region features.
        key_channels: channels of queries, keys and values.
        conv_cfg: mmcv conv config.
        norm_cfg: mmcv norm config.
        act_cfg: mmcv activation config.
    """

    def __init__(self,
                 in_channels: int,
                 key_channels: int,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU')) -> None:
        super().__init__()
        self.key_channels = key_channels
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.query_project = _projection(in_channels, key_channels, 2, **cfgs)
        self.key_project = _projection(in_channels, key_channels, 2, **cfgs)
        self.value_project = _projection(in_channels, key_channels, 1, **cfgs)
        self.out_project = _projection(key_channels, in_channels, 1, **cfgs)
        self.bottleneck = SplitConcatConv((in_channels, in_channels),
                                          in_channels, **cfgs)

    def object_context(self, feats: torch.Tensor,
                       regions: torch.Tensor) -> torch.Tensor:
        """The attended object context, before the fusion with the pixels.

        Args:
            feats: (N, C, H, W) pixel features.
            regions: (N, C, K, 1) region features.

        Returns:
            (N, C, H, W) object context.
        """
        n, _, h, w = feats.shape
        query = self.query_project(feats).reshape(n, self.key_channels, -1)
        # the regions' projections (K positions) and the attention in
        # float32 under autocast; the per-pixel convolutions follow autocast
        with _no_autocast(feats):
            regions = regions.float()
            key = self.key_project(regions).reshape(n, self.key_channels, -1)
            value = self.value_project(regions).reshape(
                n, self.key_channels, -1)
            sim = torch.bmm(query.float().transpose(1, 2), key)  # (N, HW, K)
            sim = F.softmax(sim * self.key_channels**-0.5, dim=-1)
            context = torch.bmm(value, sim.transpose(1, 2))  # (N, Ck, HW)
        return self.out_project(context.reshape(n, self.key_channels, h, w))

    def fuse(self, context: torch.Tensor,
             feats: torch.Tensor) -> torch.Tensor:
        """Object context and pixels, both (N, C, H, W) -> (N, C, H, W):
        the 1x1 conv+norm+act ``bottleneck`` of ``cat([context, feats])``."""
        return self.bottleneck(context, feats)

    def forward(self, feats: torch.Tensor,
                regions: torch.Tensor) -> torch.Tensor:
        """Pixels (N, C, H, W) and regions (N, C, K, 1) -> (N, C, H, W)."""
        return self.fuse(self.object_context(feats, regions), feats)


@MODELS.register_module()
class OCRHead(BaseDecodeHead):
    """OCR head; a cascade stage that needs the previous stage's logits.

    3x3 conv+norm+act to ``channels``, :class:`SpatialGather` of the
    regions given by the previous logits, :class:`ObjectAttentionBlock`
    with ``ocr_channels`` key channels, classifier.

    Args:
        ocr_channels: key/query/value channels of the attention.
        scale: factor on the previous logits in the spatial softmax.
        **kwargs: arguments of :class:`BaseDecodeHead`.
    """

    takes_prev_output = True

    def __init__(self, ocr_channels: int, scale: float = 1.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.ocr_channels = ocr_channels
        self.scale = scale
        self.bottleneck = ConvModule(
            self.in_channels,
            self.channels,
            kernel_size=3,
            padding=1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        self.spatial_gather_module = SpatialGather(scale)
        self.object_context_block = ObjectAttentionBlock(
            self.channels,
            ocr_channels,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def _forward(self, inputs: Sequence[torch.Tensor],
                 prev_output: torch.Tensor) -> torch.Tensor:
        """Backbone outputs and previous logits -> (N, num_classes, H, W).

        Args:
            inputs: backbone outputs.
            prev_output: (N, K, H, W) logits of the previous stage at the
                resolution of this head's features.
        """
        # three stages for activation_memory='checkpoint': features, object
        # context, fusion + classifier (the cheap gather in between is not
        # checkpointed)
        feats = self._checkpointed(self._features, inputs)
        regions = self.spatial_gather_module(feats, prev_output)
        block = self.object_context_block
        context = self._checkpointed(block.object_context, feats, regions)
        return self._checkpointed(self._fused_logits, context, feats)

    def _features(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.bottleneck(self._transform_inputs(inputs))

    def _fused_logits(self, context: torch.Tensor,
                      feats: torch.Tensor) -> torch.Tensor:
        return self.cls_seg(self.object_context_block.fuse(context, feats))
