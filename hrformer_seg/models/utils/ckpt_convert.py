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
