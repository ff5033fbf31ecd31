"""Base class of the decode heads: inputs, classifier, loss, resizing."""
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from hrformer_seg.models.losses import accuracy
from hrformer_seg.models.utils.activation_memory import (
    ActivationMemoryMixin,
    check_activation_memory,
)
from hrformer_seg.registry import MODELS, TASK_UTILS

ConfigType = dict
OptConfigType = Optional[dict]


class BaseDecodeHead(ActivationMemoryMixin, BaseModule):
    """Turns backbone features into per-class logits and computes their loss.

    Subclasses implement :meth:`_forward`, which :meth:`forward` calls; its
    last step is :meth:`cls_seg` (dropout + 1x1 classifier ``conv_seg``).
    Heads that take the previous stage's logits (cascade heads such as OCR)
    set the class attribute ``takes_prev_output = True`` and implement
    ``_forward(inputs, prev_output)``.

    A unit of the activation memory setting (its ``activation_memory``, see
    :mod:`hrformer_seg.models.utils.activation_memory`), in training:
    'lean' runs the whole head under lean checkpointing (dense convolution
    outputs kept; norms, activations, resizes and the attention products
    recomputed in backward); 'checkpoint' checkpoints it stage by stage (see
    :meth:`_checkpointed`): only each stage's inputs are kept and backward
    runs the stage's forward again, one stage at a time.

    Args:
        in_channels: channels of the selected input(s); a list when
            ``input_transform`` is not None.
        channels: channels of the features before the classifier.
        num_classes: number of classes (= output channels).
        in_index: index (or indices) of the backbone outputs to use.
        input_transform: None (one input), 'resize_concat' (all selected
            inputs resized bilinearly to the first one's size and
            concatenated) or 'multiple_select' (a list of the inputs).
        dropout_ratio: Dropout2d ratio before the classifier; <= 0 for none.
        conv_cfg: mmcv conv config of the head's convolutions (all but the
            classifier); None: ``nn.Conv2d``. On CPUs,
            ``dict(type='WinogradConv2d')`` runs the 3x3 ones through
            NNPACK's Winograd kernels
            (:class:`~hrformer_seg.models.layers.WinogradConv2d`; CPU only,
            same parameters, float32-rounding-level differences).
        norm_cfg: mmcv norm config of the head's ConvModules.
        act_cfg: mmcv activation config of the head's ConvModules.
        align_corners: ``align_corners`` of every bilinear resize done here
            and of the segmentor's final resize.
        loss_decode: loss config, or a list of them (summed per name).
        sampler: pixel sampler config (e.g. OHEMPixelSampler), built from
            TASK_UTILS with this head as ``context``.
        ignore_index: label value that gets no loss.
        activation_memory: 'full', 'lean' or 'checkpoint' (see above);
            None leaves it as the enclosing segmentor sets it ('full' by
            default).
        init_cfg: mmengine init config.
    """

    takes_prev_output = False

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 channels: int,
                 num_classes: int,
                 in_index: Union[int, Sequence[int]] = -1,
                 input_transform: Optional[str] = None,
                 dropout_ratio: float = 0.1,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = None,
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 loss_decode: Union[ConfigType, Sequence[ConfigType]] = dict(
                     type='CrossEntropyLoss',
                     use_sigmoid=False,
                     loss_weight=1.0),
                 sampler: OptConfigType = None,
                 ignore_index: int = 255,
                 activation_memory: Optional[str] = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg)
        name = type(self).__name__
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(
                f'{name}: num_classes must be a positive int, got '
                f'{num_classes!r}; a config with num_classes=None gets the '
                'count of its classes from hrformer_seg.utils.'
                'resolve_num_classes(cfg), which the tools and init_model '
                'call (call it yourself before building a runner)')
        if input_transform not in (None, 'resize_concat', 'multiple_select'):
            raise ValueError(
                f'{name}: input_transform must be None, "resize_concat" or '
                f'"multiple_select", got {input_transform!r}')
        if input_transform is None:
            if not isinstance(in_channels, int) or \
                    not isinstance(in_index, int):
                raise TypeError(
                    f'{name}: with input_transform=None, in_channels and '
                    f'in_index must be ints, got {in_channels!r} and '
                    f'{in_index!r}')
        else:
            if isinstance(in_channels, int) or isinstance(in_index, int) \
                    or len(in_channels) != len(in_index):
                raise TypeError(
                    f'{name}: with input_transform={input_transform!r}, '
                    f'in_channels and in_index must be sequences of the same '
                    f'length, got {in_channels!r} and {in_index!r}')
            in_channels = list(in_channels)
            in_index = list(in_index)
        self.input_transform = input_transform
        self.in_index = in_index
        self.in_channels = (
            sum(in_channels)
            if input_transform == 'resize_concat' else in_channels)
        self.channels = channels
        self.num_classes = num_classes
        self.out_channels = num_classes
        self.dropout_ratio = dropout_ratio
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.align_corners = align_corners
        self.ignore_index = ignore_index
        if activation_memory is not None:
            self.activation_memory = check_activation_memory(
                activation_memory, name)

        if isinstance(loss_decode, dict):
            self.loss_decode = MODELS.build(loss_decode)
        elif isinstance(loss_decode, (list, tuple)):
            self.loss_decode = nn.ModuleList(
                MODELS.build(cfg) for cfg in loss_decode)
        else:
            raise TypeError(f'{name}: loss_decode must be a dict or a list '
                            f'of dicts, got {type(loss_decode).__name__}')
        self.sampler = (
            TASK_UTILS.build(sampler, default_args=dict(context=self))
            if sampler is not None else None)

        self.conv_seg = nn.Conv2d(channels, self.out_channels, kernel_size=1)
        nn.init.normal_(self.conv_seg.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 \
            else None

    def _transform_inputs(
            self, inputs: Sequence[torch.Tensor]
    ) -> Union[torch.Tensor, List[torch.Tensor]]:
        """Selects (and merges) the backbone outputs this head uses.

        Args:
            inputs: backbone outputs, each (N, C_i, H_i, W_i).

        Returns:
            One (N, C, H, W) tensor, or a list for 'multiple_select'.
        """
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == 'multiple_select':
            return selected
        size = selected[0].shape[2:]
        resized = [selected[0]] + [
            F.interpolate(
                x, size=size, mode='bilinear',
                align_corners=self.align_corners)
            if x.shape[2:] != size else x for x in selected[1:]
        ]
        return torch.cat(resized, dim=1)

    def cls_seg(self, feats: torch.Tensor) -> torch.Tensor:
        """Dropout and 1x1 classifier: (N, channels, H, W) -> (N, K, H, W)."""
        if self.dropout is not None:
            feats = self.dropout(feats)
        return self.conv_seg(feats)

    def forward(self, *inputs: Any) -> torch.Tensor:
        """Backbone outputs (and the previous stage's logits if
        ``takes_prev_output``) -> (N, num_classes, H, W) logits at head size;
        in training, as a whole under lean checkpointing if
        ``activation_memory`` is 'lean', stage by stage under full
        checkpointing if it is 'checkpoint'."""
        mode = check_activation_memory(self.activation_memory,
                                       type(self).__name__)
        if mode == 'lean':
            return self.run_with_activation_memory(self._forward, *inputs)
        return self._forward(*inputs)

    def _checkpointed(self, stage: Callable, *args: Any) -> Any:
        """``stage(*args)``, fully checkpointed in training if
        ``activation_memory`` is 'checkpoint'.

        Subclasses run :meth:`_forward` as a few such stages. Backward then
        rebuilds the activations of one stage at a time instead of the whole
        head's at once; the stage outputs (a few feature maps) are what is
        kept in between.
        """
        if self.activation_memory == 'checkpoint':
            return self.run_with_activation_memory(stage, *args)
        return stage(*args)

    def _forward(self, *inputs: Any) -> torch.Tensor:
        raise NotImplementedError

    def loss_by_feat(self, seg_logits: torch.Tensor,
                     seg_label: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Losses and pixel accuracy of logits against the labels.

        The logits are resized bilinearly to the label size first; the
        sampler (if any) then gives per-pixel weights to every loss.

        Args:
            seg_logits: (N, K, h, w) output of :meth:`forward`.
            seg_label: (N, 1, H, W) or (N, H, W) integer labels.

        Returns:
            ``{loss_name: loss, ..., 'acc_seg': accuracy in percent}``.
        """
        if seg_label.dim() == 4:
            seg_label = seg_label.squeeze(1)
        seg_label = seg_label.long()
        seg_logits = self.predict_by_feat(seg_logits, seg_label.shape[1:])
        weight = (
            self.sampler.sample(seg_logits, seg_label)
            if self.sampler is not None else None)
        loss_modules = (
            self.loss_decode if isinstance(self.loss_decode, nn.ModuleList)
            else [self.loss_decode])
        losses: Dict[str, torch.Tensor] = {}
        for loss_module in loss_modules:
            value = loss_module(
                seg_logits,
                seg_label,
                weight=weight,
                ignore_index=self.ignore_index)
            name = loss_module.loss_name
            losses[name] = losses[name] + value if name in losses else value
        losses['acc_seg'] = accuracy(
            seg_logits, seg_label, ignore_index=self.ignore_index)
        return losses

    def predict_by_feat(self, seg_logits: torch.Tensor,
                        size: Sequence[int]) -> torch.Tensor:
        """Resizes head logits (N, K, h, w) bilinearly to (N, K, *size)."""
        size = tuple(int(s) for s in size)
        if tuple(seg_logits.shape[2:]) == size:
            return seg_logits
        return F.interpolate(
            seg_logits,
            size=size,
            mode='bilinear',
            align_corners=self.align_corners)
