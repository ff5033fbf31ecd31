"""Encoder-decoder with a chain of decode stages (FCN -> OCR)."""
from typing import List, Sequence, Union

import torch
import torch.nn as nn

from hrformer_seg.registry import MODELS
from .encoder_decoder import EncoderDecoder, build_part


@MODELS.register_module()
class CascadeEncoderDecoder(EncoderDecoder):
    """Encoder-decoder whose decode stages run in a chain.

    Stage 0 sees the backbone features; every later stage that declares
    ``takes_prev_output`` (e.g. :class:`OCRHead`) also gets the logits of
    the stage before it. The prediction is the last stage's. All stages are
    trained, each with its own loss; every stage runs once per step.

    ``decode_head`` is a list of head configs (MMSegmentation) or a dict of
    named stages in order, e.g. ``dict(fcn=dict(type='FCNHead', ...),
    ocr=dict(type='OCRHead', ...))``, so configs can override single keys
    such as ``model.decode_head.ocr.in_channels``. Either way the heads are
    stored in an ``nn.ModuleList`` (state dict keys ``decode_head.0.*``,
    ``decode_head.1.*`` as in MMSegmentation), ``stage_names`` keeps the
    names, and the loss keys are ``decode_<i>.<loss name>`` and
    ``decode_<i>.acc_seg`` by stage index, as in MMSegmentation.

    Args:
        num_stages: number of decode stages (must match ``decode_head``).
        **kwargs: arguments of :class:`EncoderDecoder`.
    """

    def __init__(self, num_stages: int, **kwargs) -> None:
        self.num_stages = num_stages
        super().__init__(**kwargs)

    def _init_decode_head(self, decode_head: Union[dict, Sequence[dict]],
                          activation_memory: str) -> None:
        if isinstance(decode_head, dict):
            if 'type' in decode_head or not all(
                    isinstance(v, dict) for v in decode_head.values()):
                raise TypeError(
                    'CascadeEncoderDecoder: decode_head must be a list of '
                    'head configs or a dict of named stage configs, e.g. '
                    'dict(fcn=dict(type="FCNHead", ...), '
                    'ocr=dict(type="OCRHead", ...))')
            names = list(decode_head.keys())
            cfgs = list(decode_head.values())
        else:
            cfgs = list(decode_head)
            names = [str(i) for i in range(len(cfgs))]
        if len(cfgs) != self.num_stages:
            raise ValueError(
                f'CascadeEncoderDecoder: num_stages={self.num_stages} but '
                f'decode_head has {len(cfgs)} stages ({names})')
        self.stage_names = names
        self.decode_head = nn.ModuleList(
            build_part(cfg, activation_memory) for cfg in cfgs)
        if self.decode_head[0].takes_prev_output:
            raise ValueError(
                f'CascadeEncoderDecoder: the first stage ({names[0]}, '
                f'{type(self.decode_head[0]).__name__}) needs the output of a '
                f'previous stage')
        self.align_corners = self.decode_head[-1].align_corners
        self.num_classes = self.decode_head[-1].num_classes
        self.out_channels = self.decode_head[-1].out_channels

    def _decode(self, x: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        outputs: List[torch.Tensor] = []
        for head in self.decode_head:
            if head.takes_prev_output:
                outputs.append(head(x, outputs[-1]))
            else:
                outputs.append(head(x))
        return outputs

    def _decode_heads(self) -> List[nn.Module]:
        return list(self.decode_head)

    def _decode_prefixes(self) -> List[str]:
        return [f'decode_{i}' for i in range(self.num_stages)]
