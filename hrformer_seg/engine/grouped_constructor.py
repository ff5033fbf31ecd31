"""An optimizer wrapper constructor with one parameter group per setting.

mmengine's ``DefaultOptimWrapperConstructor`` makes one parameter group per
parameter as soon as ``paramwise_cfg`` is set (1,291 groups for HRFormer-S +
OCR) and logs a line for each. torch's multi-tensor and fused optimizer
kernels work within a group, so merging the groups that carry the same
settings lets the optimizer update all tensors of a group at once; what it
computes per parameter does not change.
"""
import inspect
import logging
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper

from hrformer_seg.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def merge_param_groups(groups: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Merges parameter groups whose settings (all keys but ``params``) agree.

    Returns one group per distinct setting, in order of first appearance;
    the parameters of a group keep their order.
    """
    merged: Dict[Tuple, Dict[str, Any]] = {}
    for group in groups:
        options = {k: v for k, v in group.items() if k != 'params'}
        key = tuple(sorted((k, repr(v)) for k, v in options.items()))
        merged.setdefault(key, dict(options, params=[]))
        merged[key]['params'].extend(group['params'])
    return list(merged.values())


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GroupedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` with merged groups and fused updates.

    Same ``paramwise_cfg`` as mmengine's constructor, so configs need only
    name this type. Groups with equal settings are merged
    (:func:`merge_param_groups`), and an optimizer that has a fused kernel
    (torch's Adam, AdamW, SGD) gets ``fused=True`` when every parameter is a
    floating point tensor on a CPU or CUDA device, unless the optimizer
    config sets ``fused`` or ``foreach`` itself.
    """

    def add_params(self, params: List[dict], module: nn.Module,
                   prefix: str = '', is_dcn_module: Optional[int] = None
                   ) -> None:
        if prefix:  # mmengine's recursion into the children
            return super().add_params(params, module, prefix, is_dcn_module)
        groups: List[dict] = []
        logger = MMLogger.get_current_instance()
        level = logger.level  # one INFO line per parameter otherwise
        logger.setLevel(logging.WARNING)
        try:
            super().add_params(groups, module, prefix, is_dcn_module)
        finally:
            logger.setLevel(level)
        params.extend(merge_param_groups(groups))

    def __call__(self, model: nn.Module) -> OptimWrapper:
        cfg = self.optimizer_cfg
        optimizer_cls = cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cls)
        tensors = list(getattr(model, 'module', model).parameters())
        if ('fused' not in cfg and 'foreach' not in cfg and tensors
                and 'fused' in inspect.signature(optimizer_cls).parameters
                and all(p.device.type in ('cpu', 'cuda')
                        and p.dtype in _FLOAT_DTYPES for p in tensors)):
            self.optimizer_cfg = dict(cfg, fused=True)
        try:
            return super().__call__(model)
        finally:
            self.optimizer_cfg = cfg
