"""Backbone -> (neck) -> decode head; whole-image or sliding-window test."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn

from hrformer_seg.registry import MODELS
from hrformer_seg.structures import SegDataSample
from ..utils.activation_memory import (
    DEFAULT_ACTIVATION_MEMORY,
    ActivationMemoryMixin,
    check_activation_memory,
    set_activation_memory,
)
from ..utils.memory_format import (
    apply_memory_format,
    check_memory_format,
    input_layout,
)
from .base import BaseSegmentor, OptSampleList, SampleList


def build_part(cfg: dict, activation_memory: str) -> nn.Module:
    """``MODELS.build(cfg)`` with the model's activation memory mode,
    unless ``cfg`` sets its own ``activation_memory``."""
    part = MODELS.build(cfg)
    if cfg.get('activation_memory') is None:
        set_activation_memory(part, activation_memory)
    return part


@MODELS.register_module()
class EncoderDecoder(BaseSegmentor):
    """Encoder-decoder segmentor.

    Loss keys: ``decode.<loss name>``, ``decode.acc_seg`` and, with
    auxiliary heads, ``aux.*`` (one head) or ``aux_<i>.*`` (a list), as in
    MMSegmentation. Auxiliary heads are only used for the loss.

    Test modes (``test_cfg``):

    * ``dict(mode='whole')``: the padded batch in one pass;
    * ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw))``: windows of
      ``crop_size`` every ``stride`` pixels (the last window of a row or
      column is shifted back to end at the border; windows are clipped to
      images smaller than the crop); the logits of overlapping windows are
      summed and divided by the number of windows covering each pixel.

    The logits are then resized to the input size and, per image, mapped
    back to ``ori_shape`` by :meth:`postprocess_result`.

    ``activation_memory`` is the model's one activation memory setting
    (:mod:`hrformer_seg.models.utils.activation_memory`): what a training
    step keeps for backward in the backbone, neck and heads. A part whose
    config sets its own ``activation_memory`` keeps that one.

    Args:
        backbone: backbone config.
        decode_head: decode head config.
        neck: optional neck config.
        auxiliary_head: optional auxiliary head config or list of configs.
        train_cfg: training options (kept for configs; unused).
        test_cfg: test options, see above; default ``dict(mode='whole')``.
        data_preprocessor: data preprocessor or its config.
        activation_memory: 'full' (store every activation: plain autograd,
            the reference computation), 'lean' (keep dense convolution and
            attention outputs, recompute the rest in backward) or
            'checkpoint' (recompute everything in backward).
        memory_format: 'auto', 'channels_last' or 'contiguous', the layout
            of the weights and inputs of the convolutions
            (:mod:`hrformer_seg.models.utils.memory_format`).
        pretrained: shortcut for the backbone's
            ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: Union[dict, Sequence[dict]],
                 neck: Optional[dict] = None,
                 auxiliary_head: Optional[Union[dict, Sequence[dict]]] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 activation_memory: str = DEFAULT_ACTIVATION_MEMORY,
                 memory_format: str = 'auto',
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        name = type(self).__name__
        mode = check_activation_memory(activation_memory, name)
        self.memory_format = check_memory_format(memory_format, name)
        if pretrained is not None:
            backbone = dict(
                backbone,
                init_cfg=dict(type='Pretrained', checkpoint=pretrained))
        self.backbone = build_part(backbone, mode)
        self.neck = build_part(neck, mode) if neck is not None else None
        self._init_decode_head(decode_head, mode)
        self._init_auxiliary_head(auxiliary_head, mode)
        if mode != DEFAULT_ACTIVATION_MEMORY and not any(
                isinstance(m, ActivationMemoryMixin) for m in self.modules()):
            raise ValueError(
                f'{name}: activation_memory={mode!r}, but none of its '
                f'parts ({type(self.backbone).__name__} and the heads) '
                f'supports an activation memory setting')
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or {})
        _check_test_cfg(self.test_cfg)
        self.channels_last = apply_memory_format(self, memory_format)

    def _init_decode_head(self, decode_head: Union[dict, Sequence[dict]],
                          activation_memory: str) -> None:
        if not isinstance(decode_head, dict) or 'type' not in decode_head:
            raise TypeError(
                f'{type(self).__name__}: decode_head must be one head config '
                f'(a dict with "type"); use CascadeEncoderDecoder for a '
                f'list or dict of stages')
        self.decode_head = build_part(decode_head, activation_memory)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels

    def _init_auxiliary_head(
            self, auxiliary_head: Optional[Union[dict, Sequence[dict]]],
            activation_memory: str) -> None:
        if auxiliary_head is None:
            self.auxiliary_head = None
        elif isinstance(auxiliary_head, dict):
            self.auxiliary_head = build_part(auxiliary_head,
                                             activation_memory)
        else:
            self.auxiliary_head = nn.ModuleList(
                build_part(cfg, activation_memory) for cfg in auxiliary_head)

    def extract_feat(self, inputs: torch.Tensor) -> Sequence[torch.Tensor]:
        """Backbone (and neck) features of (N, C, H, W) images."""
        x = self.backbone(
            input_layout(inputs, self.memory_format, self.channels_last))
        if self.neck is not None:
            x = self.neck(x)
        return x

    def _decode(self, x: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Logits of every decode stage, at head resolution."""
        return [self.decode_head(x)]

    def _decode_heads(self) -> List[nn.Module]:
        """The decode heads in stage order (their loss prefixes follow)."""
        return [self.decode_head]

    def _decode_prefixes(self) -> List[str]:
        return ['decode']

    def encode_decode(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images -> (N, K, H, W) logits at the input size."""
        logits = self._decode(self.extract_feat(inputs))[-1]
        return self._decode_heads()[-1].predict_by_feat(
            logits, inputs.shape[2:])

    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: OptSampleList = None) -> torch.Tensor:
        """Raw logits of the last decode stage, (N, K, h, w)."""
        return self._decode(self.extract_feat(inputs))[-1]

    def loss(self, inputs: torch.Tensor,
             data_samples: SampleList) -> Dict[str, torch.Tensor]:
        """Losses of all decode stages and auxiliary heads.

        Args:
            inputs: (N, C, H, W) images.
            data_samples: samples with ``gt_sem_seg`` of the input size.

        Returns:
            ``{'decode.loss_ce': ..., 'decode.acc_seg': ..., 'aux.*': ...}``
            (``decode_<i>.*`` for a cascade).
        """
        seg_label = _stack_labels(data_samples)
        x = self.extract_feat(inputs)
        losses: Dict[str, torch.Tensor] = {}
        for prefix, head, logits in zip(self._decode_prefixes(),
                                        self._decode_heads(), self._decode(x)):
            losses.update(_add_prefix(head.loss_by_feat(logits, seg_label),
                                      prefix))
        if isinstance(self.auxiliary_head, nn.ModuleList):
            for i, head in enumerate(self.auxiliary_head):
                losses.update(_add_prefix(
                    head.loss_by_feat(head(x), seg_label), f'aux_{i}'))
        elif self.auxiliary_head is not None:
            losses.update(_add_prefix(
                self.auxiliary_head.loss_by_feat(
                    self.auxiliary_head(x), seg_label), 'aux'))
        return losses

    def predict(self,
                inputs: torch.Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predicts and writes ``seg_logits``/``pred_sem_seg`` per image.

        Args:
            inputs: (N, C, H, W) images.
            data_samples: samples with metainfo (``ori_shape``,
                ``padding_size``, ``flip``...); None treats every input as
                an unpadded, unflipped original image.

        Returns:
            The data samples with (K, H, W) ``seg_logits`` and (1, H, W)
            ``pred_sem_seg`` at each ``ori_shape``.
        """
        if data_samples is None:
            shape = tuple(inputs.shape[2:])
            data_samples = [
                SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape))
                for _ in range(inputs.shape[0])
            ]
        return self.postprocess_result(self.inference(inputs), data_samples)

    def inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images -> (N, K, H, W) logits, per ``test_cfg``."""
        _check_test_cfg(self.test_cfg)
        if self.test_cfg.get('mode', 'whole') == 'slide':
            return self.slide_inference(inputs)
        return self.encode_decode(inputs)

    def slide_inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """Sliding-window logits, averaged where windows overlap.

        Args:
            inputs: (N, C, H, W) images.

        Returns:
            (N, K, H, W) logits.
        """
        crop_h, crop_w = self.test_cfg['crop_size']
        stride_h, stride_w = self.test_cfg['stride']
        height, width = inputs.shape[2:]
        logits = None
        count = inputs.new_zeros((1, 1, height, width))
        for y0 in _window_starts(height, crop_h, stride_h):
            for x0 in _window_starts(width, crop_w, stride_w):
                y1, x1 = min(y0 + crop_h, height), min(x0 + crop_w, width)
                crop = self.encode_decode(inputs[:, :, y0:y1, x0:x1])
                if logits is None:
                    logits = inputs.new_zeros(
                        (inputs.shape[0], crop.shape[1], height, width))
                logits[:, :, y0:y1, x0:x1] += crop
                count[:, :, y0:y1, x0:x1] += 1
        return logits / count


def _window_starts(size: int, crop: int, stride: int) -> List[int]:
    """Start offsets of sliding windows along one axis.

    Windows start every ``stride`` pixels; the last one is moved back so it
    ends at ``size``; a crop larger than ``size`` gives one window at 0.
    """
    num = max(size - crop + stride - 1, 0) // stride + 1
    return [max(min(i * stride + crop, size) - crop, 0) for i in range(num)]


def _check_test_cfg(test_cfg: dict) -> None:
    mode = test_cfg.get('mode', 'whole')
    if mode not in ('whole', 'slide'):
        raise ValueError(f'test_cfg.mode must be "whole" or "slide", got '
                         f'{mode!r}')
    if mode == 'slide':
        for key in ('crop_size', 'stride'):
            value = test_cfg.get(key)
            if value is None or len(value) != 2 or min(value) < 1:
                raise ValueError(f'test_cfg.{key} must be (h, w) with '
                                 f'positive entries for mode="slide", got '
                                 f'{value!r}')


def _stack_labels(data_samples: OptSampleList) -> torch.Tensor:
    """(N, 1, H, W) int64 labels of the data samples."""
    if not data_samples:
        raise ValueError('loss: data_samples with gt_sem_seg are required')
    labels = []
    for sample in data_samples:
        if 'gt_sem_seg' not in sample:
            raise ValueError(
                f'loss: data sample without gt_sem_seg '
                f'(img_path={sample.metainfo.get("img_path")})')
        labels.append(sample.gt_sem_seg.data)
    shapes = {tuple(label.shape) for label in labels}
    if len(shapes) != 1:
        raise ValueError(f'loss: labels of different sizes {sorted(shapes)} '
                         f'in one batch; pad them in the data preprocessor')
    return torch.stack(labels).long()


def _add_prefix(values: Dict[str, torch.Tensor],
                prefix: str) -> Dict[str, torch.Tensor]:
    return {f'{prefix}.{key}': value for key, value in values.items()}
