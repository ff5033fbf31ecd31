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
    optimizer and the parameters' devices allow it.

    One more ``paramwise_cfg`` entry, ``module_lr_mult={'backbone': 0.1}``,
    multiplies the learning rate of every parameter of a sub-module (by
    its name in the model) on top of the other rules: unlike a
    ``custom_keys`` entry, it keeps ``norm_decay_mult``, ``bias_decay_mult``
    and the other keys in force for those parameters (mmengine applies only
    the longest matching custom key). Fine-tuning lowers the pretrained
    backbone's learning rate this way.
    """

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
        self._apply_module_lr_mult(groups, module)
        params.extend(merge_param_groups(groups))

    def _apply_module_lr_mult(self, groups: List[dict],
                              module: nn.Module) -> None:
        mults = self.paramwise_cfg.get('module_lr_mult') or {}
        if not mults:
            return
        names = {id(p): n for n, p in module.named_parameters()}
        unused = set(mults)
        for group in groups:
            name = names.get(id(group['params'][0]), '')
            for prefix, mult in mults.items():
                if name == prefix or name.startswith(prefix + '.'):
                    group['lr'] = group.get('lr', self.base_lr) * mult
                    unused.discard(prefix)
        if unused:
            raise KeyError(
                f'optim_wrapper.paramwise_cfg.module_lr_mult names '
                f'{sorted(unused)}, which are not sub-modules with '
                f'parameters of {type(module).__name__}')

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
