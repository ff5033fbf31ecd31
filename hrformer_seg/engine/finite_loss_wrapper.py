"""An optimizer wrapper that never steps on a NaN or infinite loss."""
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.optim import OptimWrapper

from hrformer_seg.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class FiniteLossOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that, when the loss is not finite on any rank, runs
    the backward (DDP's all-reduces stay matched), drops the gradients and
    sets ``skipped_nonfinite`` for the loop to report."""

    skipped_nonfinite = False

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        bad = (~torch.isfinite(loss.detach()).all()).float().reshape(1)
        if is_distributed():
            all_reduce(bad, op='max')
        self.skipped_nonfinite = bool(bad.item())
        if not self.skipped_nonfinite:
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        if loss.requires_grad:
            self.backward(loss)
        self.zero_grad(**(zero_kwargs or {}))
