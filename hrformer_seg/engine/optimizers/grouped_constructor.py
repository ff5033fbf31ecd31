"""An optimizer wrapper constructor with one parameter group per setting.

mmengine's ``DefaultOptimWrapperConstructor`` makes one parameter group per
parameter as soon as ``paramwise_cfg`` is set (1,291 groups for HRFormer-S +
OCR), and logs a line for each of them. Optimizers then update parameter by
parameter: torch's multi-tensor (``foreach``) and fused kernels work within a
group. Merging the groups that carry the same settings (lr, weight decay, ...)
gives a handful of groups and lets the optimizer update all tensors of a group
in one kernel. What the optimizer computes per parameter does not change.

On this CPU, one AdamW step for HRFormer-S + OCR took 0.24 s with the default
constructor, 0.16 s with merged groups and 0.03 s merged and fused.
"""
import copy
import inspect
import logging
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper

from hrformer_seg.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                                   OPTIMIZERS)

#: devices on which torch's fused Adam/AdamW/SGD kernels run
_FUSED_DEVICES = ('cpu', 'cuda')


def merge_param_groups(groups: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Merge parameter groups whose settings (all keys but ``params``) agree.

    Args:
        groups: parameter groups as ``DefaultOptimWrapperConstructor`` makes
            them, ``{'params': [p], 'lr': ..., 'weight_decay': ...}``.

    Returns:
        One group per distinct setting, in order of first appearance; the
        parameters of a group keep their order.
    """
    merged: Dict[Tuple, Dict[str, Any]] = {}
    for group in groups:
        options = {k: v for k, v in group.items() if k != 'params'}
        key = tuple(sorted((k, repr(v)) for k, v in options.items()))
        if key not in merged:
            merged[key] = dict(options, params=[])
        merged[key]['params'].extend(group['params'])
    return list(merged.values())


@contextmanager
def _quiet_current_logger() -> Iterator[None]:
    """Silence the per-parameter INFO lines of ``add_params``."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _can_fuse(optimizer_cls: type, params: List[Dict[str, Any]]) -> bool:
    if 'fused' not in inspect.signature(optimizer_cls).parameters:
        return False
    tensors = [p for g in params for p in g['params']]
    return bool(tensors) and all(
        p.device.type in _FUSED_DEVICES and p.dtype in (
            torch.float16, torch.bfloat16, torch.float32, torch.float64)
        for p in tensors)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GroupedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` with merged groups and fused updates.

    Same ``paramwise_cfg`` as mmengine's constructor (norm/bias decay
    multipliers, ``custom_keys``...), so configs need only name this type.
    Groups with equal settings are merged (:func:`merge_param_groups`), and
    an optimizer that has a fused implementation (torch's Adam, AdamW, SGD)
    gets ``fused=True`` when every parameter is on a CPU or CUDA device,
    unless the optimizer config sets ``fused`` or ``foreach`` itself.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        optim_wrapper_cfg = copy.copy(self.optim_wrapper_cfg)
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = copy.copy(self.optimizer_cfg)
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cfg['type'])
        if self.paramwise_cfg:
            groups: List[Dict[str, Any]] = []
            with _quiet_current_logger():
                self.add_params(groups, model)
            params = merge_param_groups(groups)
        else:
            params = [dict(params=list(model.parameters()))]
        if ('fused' not in optimizer_cfg and 'foreach' not in optimizer_cfg
                and _can_fuse(optimizer_cls, params)):
            optimizer_cfg['fused'] = True
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        optimizer_cfg[first_arg] = params
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        print_log(self._describe(optimizer), logger='current')
        return OPTIM_WRAPPERS.build(
            optim_wrapper_cfg, default_args=dict(optimizer=optimizer))

    @staticmethod
    def _describe(optimizer: torch.optim.Optimizer) -> str:
        defaults = optimizer.defaults
        lines = [f'{type(optimizer).__name__}: {len(optimizer.param_groups)} '
                 f'parameter group(s), fused={defaults.get("fused")}']
        for i, group in enumerate(optimizer.param_groups):
            numel = sum(p.numel() for p in group['params'])
            shown = {k: group[k] for k in ('lr', 'weight_decay')
                     if k in group}
            lines.append(f'  group {i}: {len(group["params"])} tensors, '
                         f'{numel:,} values, ' + ', '.join(
                             f'{k}={v:g}' for k, v in shown.items()))
        return '\n'.join(lines)
