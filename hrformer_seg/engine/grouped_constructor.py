"""An optimizer wrapper constructor with one parameter group per setting
(mmengine's makes one per parameter with ``paramwise_cfg``)."""
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
    """Merges the groups whose settings (all but ``params``) agree, in
    order of first appearance."""
    merged: Dict[Tuple, Dict[str, Any]] = {}
    for group in groups:
        options = {k: v for k, v in group.items() if k != 'params'}
        key = tuple(sorted((k, repr(v)) for k, v in options.items()))
        merged.setdefault(key, dict(options, params=[]))
        merged[key]['params'].extend(group['params'])
    return list(merged.values())


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GroupedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` with merged groups and, unless
    the config sets ``fused`` or ``foreach``, ``fused=True`` where the
    optimizer and the parameters' devices allow it."""

    def add_params(self, params: List[dict], module: nn.Module,
                   prefix: str = '', is_dcn_module: Optional[int] = None
                   ) -> None:
        if prefix:  # mmengine's recursion into the children
            return super().add_params(params, module, prefix, is_dcn_module)
        groups: List[dict] = []
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # not one INFO line per parameter
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
