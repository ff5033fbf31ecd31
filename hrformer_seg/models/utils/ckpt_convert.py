"""Convert official HRFormer checkpoints (github HRNet/HRFormer) to our layout.

Official attention parameters live under ``<block>.attn.attn.`` with separate
``q_proj``/``k_proj``/``v_proj``/``out_proj`` linear layers and a
``relative_position_index`` buffer; ours under ``<block>.attn.`` with one
``qkv`` layer (rows: q, then k, then v), ``proj`` and no saved index. All
other names are the same. The ImageNet classification head is dropped.
"""
import math
import re
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

WindowSize = Optional[Union[int, Sequence[Union[int, Sequence[int]]]]]

CLASSIFICATION_PREFIXES = ('incre_modules.', 'downsamp_modules.',
                           'final_layer.', 'classifier.')
_OFFICIAL_ATTN = '.attn.attn.'
_BRANCH_KEY = re.compile(r'^stage(\d+)\.\d+\.branches\.(\d+)\.')
_BIAS_TABLE = 'relative_position_bias_table'


def is_official_hrformer(state_dict: Mapping[str, Tensor]) -> bool:
    """True if ``state_dict`` has the official HRFormer key layout."""
    return any(_OFFICIAL_ATTN in k or k.startswith(CLASSIFICATION_PREFIXES)
               for k in state_dict)


def _target_window(key: str, window_size: WindowSize) -> Optional[int]:
    """Window size wanted for the bias table ``key``; None keeps it."""
    if window_size is None or isinstance(window_size, int):
        return window_size
    match = _BRANCH_KEY.match(key)
    if match is None:
        raise KeyError(f'cannot tell stage and branch of {key}')
    stage, branch = int(match.group(1)), int(match.group(2))
    if not 2 <= stage <= len(window_size) + 1:
        raise KeyError(f'{key}: no window size given for stage {stage}')
    per_stage = window_size[stage - 2]
    if isinstance(per_stage, int):
        return per_stage
    return per_stage[branch]


def resize_bias_table(table: Tensor, window_size: int) -> Tensor:
    """Resize a ``((2w-1)^2, heads)`` relative position bias table to another
    window size, bilinearly over the (2w-1) x (2w-1) offset grid (as the
    official code does when fine-tuning with a larger window).

    Args:
        table: ((2w-1)^2, heads).
        window_size: the new window size ``w'``.

    Returns:
        ((2w'-1)^2, heads) table; ``table`` itself if the size is unchanged.
    """
    length, heads = table.shape
    side = math.isqrt(length)
    if side * side != length:
        raise ValueError(f'bias table of {length} rows is not square')
    new_side = 2 * window_size - 1
    if new_side == side:
        return table
    grid = table.permute(1, 0).reshape(1, heads, side, side)
    grid = F.interpolate(
        grid.float(), size=(new_side, new_side), mode='bilinear',
        align_corners=False).to(table.dtype)
    return grid.reshape(heads, new_side * new_side).permute(1, 0).contiguous()


def resize_relative_position_bias_tables(
        state_dict: Mapping[str, Tensor],
        window_size: WindowSize) -> 'OrderedDict[str, Tensor]':
    """Resize every ``relative_position_bias_table`` to ``window_size``.

    Args:
        state_dict: weights in either layout.
        window_size: None (keep), one int for all, or one entry per stage 2,
            3, 4, each an int or one int per branch.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.endswith(_BIAS_TABLE):
            target = _target_window(key, window_size)
            if target is not None:
                value = resize_bias_table(value, target)
        out[key] = value
    return out


def convert_official_hrformer(
        state_dict: Mapping[str, Tensor],
        window_size: WindowSize = None) -> 'OrderedDict[str, Tensor]':
    """Convert an official HRFormer state dict to this package's layout.

    Drops the classification head (``incre_modules``, ``downsamp_modules``,
    ``final_layer``, ``classifier``) and the ``relative_position_index``
    buffers, merges ``q_proj``/``k_proj``/``v_proj`` into ``qkv``, renames
    ``out_proj`` to ``proj`` and moves the attention one level up
    (``attn.attn.`` -> ``attn.``). Bias tables are resized when
    ``window_size`` asks for another window.

    Args:
        state_dict: the official weights (the ``model`` entry of the file).
        window_size: see :func:`resize_relative_position_bias_tables`.

    Returns:
        The converted weights, ready for ``HRFormer.load_state_dict``.
    """
    out: Dict[str, Tensor] = OrderedDict()
    pending: Dict[str, Dict[str, Tensor]] = {}
    for key, value in state_dict.items():
        if key.startswith(CLASSIFICATION_PREFIXES):
            continue
        if _OFFICIAL_ATTN not in key:
            out[key] = value
            continue
        block, name = key.split(_OFFICIAL_ATTN, 1)
        new_prefix = f'{block}.attn.'
        if name == 'relative_position_index':
            continue
        if name.startswith(('q_proj.', 'k_proj.', 'v_proj.')):
            proj, param = name.split('.', 1)
            group = pending.setdefault(f'{new_prefix}qkv.{param}', {})
            group[proj[0]] = value
            if len(group) == 3:
                out[f'{new_prefix}qkv.{param}'] = torch.cat(
                    [group['q'], group['k'], group['v']], dim=0)
        elif name.startswith('out_proj.'):
            out[new_prefix + 'proj.' + name[len('out_proj.'):]] = value
        else:
            out[new_prefix + name] = value
    incomplete = [k for k, g in pending.items() if len(g) != 3]
    if incomplete:
        raise KeyError(f'q/k/v projections incomplete for {incomplete}')
    return resize_relative_position_bias_tables(out, window_size)


# ----------------------------------------------------- segmentation models
# Official OCR nets (HRT_SMALL_OCR_V2, HRT_BASE_OCR_V2): each conv+BN pair as
# (official conv, official BN, our ConvModule) with this package's
# CascadeEncoderDecoder (stage 0: FCNHead, stage 1: OCRHead). The official
# BN+ReLU is an nn.Sequential, so its BN sits one level down ('.1.0').
_OCR_BLOCK = 'ocr_distri_head.object_context_block.'
_OUR_BLOCK = 'decode_head.1.object_context_block.'
_CONV_BN_PAIRS = (
    ('aux_head.0', 'aux_head.1.0', 'decode_head.0.convs.0'),
    ('conv3x3.0', 'conv3x3.1.0', 'decode_head.1.bottleneck'),
    *((f'{_OCR_BLOCK}{ours}.{2 * i}', f'{_OCR_BLOCK}{ours}.{2 * i + 1}.0',
       f'{_OUR_BLOCK}{mine}.{i}')
      for ours, mine in (('f_pixel', 'query_project'),
                         ('f_object', 'key_project')) for i in (0, 1)),
    (f'{_OCR_BLOCK}f_down.0', f'{_OCR_BLOCK}f_down.1.0',
     f'{_OUR_BLOCK}value_project'),
    (f'{_OCR_BLOCK}f_up.0', f'{_OCR_BLOCK}f_up.1.0',
     f'{_OUR_BLOCK}out_project'),
    ('ocr_distri_head.conv_bn_dropout.0',
     'ocr_distri_head.conv_bn_dropout.1.0', f'{_OUR_BLOCK}bottleneck'),
)
_CLASSIFIERS = (('aux_head.2', 'decode_head.0.conv_seg'),
                ('cls_head', 'decode_head.1.conv_seg'))
_BN_ENTRIES = ('weight', 'bias', 'running_mean', 'running_var',
               'num_batches_tracked')


def is_official_ocrnet(state_dict: Mapping[str, Tensor]) -> bool:
    """True if ``state_dict`` is an official HRFormer + OCR segmentation
    model (``backbone.``, ``conv3x3.``, ``ocr_distri_head.``, ``cls_head.``
    keys; a ``module.`` prefix is allowed)."""
    keys = {k[len('module.'):] if k.startswith('module.') else k
            for k in state_dict}
    return 'cls_head.weight' in keys and 'conv3x3.0.weight' in keys


def fold_conv_bias_into_bn(conv_bias: Tensor,
                           running_mean: Tensor) -> Tensor:
    """The running mean of a BN that makes ``BN(conv(x))`` equal
    ``BN(conv(x) + conv_bias)``.

    In eval mode ``BN(z + b) = gamma (z + b - mean) / sqrt(var + eps) +
    beta``, which is ``BN(z)`` with the mean ``mean - b``; in training the
    batch mean absorbs ``b``, so the bias has no effect either way.
    """
    return running_mean - conv_bias.to(running_mean.dtype)


def convert_official_ocrnet(
        state_dict: Mapping[str, Tensor],
        window_size: WindowSize = None) -> 'OrderedDict[str, Tensor]':
    """Official HRFormer + OCR segmentation weights -> this package's
    ``CascadeEncoderDecoder`` (``FCNHead`` + ``OCRHead``) keys.

    The backbone goes through :func:`convert_official_hrformer`; the heads'
    conv biases that precede a BN are folded into that BN's running mean
    (:func:`fold_conv_bias_into_bn`), so the converted model computes the
    official function with this package's bias-free ConvModules.

    Args:
        state_dict: the official ``state_dict`` (``module.`` prefix allowed).
        window_size: see :func:`resize_relative_position_bias_tables`.

    Raises:
        KeyError: an entry the official nets do not have (the first one is
            named) or a missing one.
    """
    source = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())
    backbone = OrderedDict((k[len('backbone.'):], v)
                           for k, v in source.items()
                           if k.startswith('backbone.'))
    out: Dict[str, Tensor] = OrderedDict(
        ('backbone.' + k, v)
        for k, v in convert_official_hrformer(backbone, window_size).items())
    used = set(f'backbone.{k}' for k in backbone)

    def take(key: str) -> Tensor:
        if key not in source:
            raise KeyError(f'official OCR model: {key} is missing')
        used.add(key)
        return source[key]

    for conv, bn, ours in _CONV_BN_PAIRS:
        out[f'{ours}.conv.weight'] = take(f'{conv}.weight')
        for entry in _BN_ENTRIES:
            key = f'{bn}.{entry}'
            if entry == 'num_batches_tracked' and key not in source:
                out[f'{ours}.bn.{entry}'] = torch.tensor(0)  # some BNs lack it
            else:
                out[f'{ours}.bn.{entry}'] = take(key)
        if f'{conv}.bias' in source:
            out[f'{ours}.bn.running_mean'] = fold_conv_bias_into_bn(
                take(f'{conv}.bias'), out[f'{ours}.bn.running_mean'])
    for official, ours in _CLASSIFIERS:
        out[f'{ours}.weight'] = take(f'{official}.weight')
        out[f'{ours}.bias'] = take(f'{official}.bias')
    unused = [k for k in source if k not in used]
    if unused:
        raise KeyError(f'official OCR model: unexpected entry {unused[0]} '
                       f'({len(unused)} not used)')
    return out


def describe_official_ocrnet(state_dict: Mapping[str, Tensor]) -> dict:
    """Architecture of converted OCR weights: ``arch`` ('small', 'base' or
    the first branch's width for other models), ``window_size`` (of the
    first bias table) and ``num_classes``."""
    width = state_dict['backbone.stage2.0.branches.0.0.norm1.weight'].numel()
    table = next(v for k, v in state_dict.items() if k.endswith(_BIAS_TABLE))
    return dict(
        arch={32: 'small', 78: 'base'}.get(width, f'{width} channels'),
        window_size=(math.isqrt(table.shape[0]) + 1) // 2,
        num_classes=state_dict['decode_head.1.conv_seg.weight'].shape[0])
