"""Online hard example mining over pixels (OHEM), as in MMSegmentation."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from hrformer_seg.registry import TASK_UTILS


@TASK_UTILS.register_module()
class OHEMPixelSampler:
    """Selects the hard pixels of a batch; the loss then sees only them.

    Pixels whose label is the head's ``ignore_index`` are never selected and
    never counted. Among the labelled pixels, ``k = min_kept * batch_size``
    is the number to keep at least (``min_kept`` is per image, as in
    MMSegmentation).

    * With ``thresh``: hardness is the softmax probability of the true class
      (lower = harder). A pixel is kept when its probability is below
      ``thresh`` or not above the probability of the k-th hardest pixel, so
      at least ``k`` pixels (all of them when fewer are labelled) and exactly
      the hardest ones are kept: every kept pixel is at least as hard as
      every dropped one. Without ties this is MMSegmentation's rule
      ``prob < max(thresh, prob of the (k+1)-th hardest)``; on ties at the
      boundary it keeps the tied pixels instead of dropping them.
    * Without ``thresh``: the ``k`` pixels with the largest loss of the
      head's ``loss_decode`` (summed over its losses) are kept.

    Args:
        context: the decode head that owns the sampler; its
            ``ignore_index`` and, without ``thresh``, its ``loss_decode``
            are used.
        thresh: probability threshold, or None to rank by loss.
        min_kept: minimum number of pixels kept per image.
    """

    def __init__(self,
                 context: nn.Module,
                 thresh: Optional[float] = None,
                 min_kept: int = 100000) -> None:
        if min_kept < 1:
            raise ValueError(
                f'OHEMPixelSampler: min_kept must be >= 1, got {min_kept}')
        self.context = context
        self.thresh = thresh
        self.min_kept = min_kept

    @property
    def ignore_index(self) -> int:
        return self.context.ignore_index

    def sample(self, seg_logits: torch.Tensor,
               seg_label: torch.Tensor) -> torch.Tensor:
        """Computes the 0/1 weight of every pixel.

        Args:
            seg_logits: (N, C, H, W) class scores.
            seg_label: (N, 1, H, W) or (N, H, W) integer labels.

        Returns:
            (N, H, W) float tensor, 1 for kept pixels, 0 otherwise.
        """
        if seg_label.dim() == 4:
            seg_label = seg_label.squeeze(1)
        if seg_logits.shape[2:] != seg_label.shape[1:]:
            raise ValueError(
                f'OHEMPixelSampler: logits {tuple(seg_logits.shape)} and '
                f'labels {tuple(seg_label.shape)} differ in size')
        with torch.no_grad():
            seg_label = seg_label.long()
            valid = seg_label != self.ignore_index
            weight = torch.zeros(seg_label.shape, dtype=seg_logits.dtype,
                                 device=seg_logits.device)
            num_valid = int(valid.sum())
            num_kept = self.min_kept * seg_label.shape[0]
            if num_valid == 0:
                return weight
            if num_valid <= num_kept:
                weight[valid] = 1.0
                return weight
            if self.thresh is not None:
                label = seg_label.masked_fill(~valid, 0).unsqueeze(1)
                prob = F.softmax(seg_logits.float(), dim=1)
                prob = prob.gather(1, label).squeeze(1)[valid]
                # probability of the num_kept-th hardest pixel
                kth = prob.kthvalue(num_kept).values
                keep = (prob < self.thresh) | (prob <= kth)
            else:
                loss = self._pixel_loss(seg_logits, seg_label)[valid]
                keep = torch.zeros_like(loss, dtype=torch.bool)
                keep[loss.topk(num_kept).indices] = True
            weight[valid] = keep.to(weight.dtype)
            return weight

    def _pixel_loss(self, seg_logits: torch.Tensor,
                    seg_label: torch.Tensor) -> torch.Tensor:
        """Sum of the context's losses per pixel, shape (N, H, W)."""
        losses = self.context.loss_decode
        if isinstance(losses, nn.Module) and not isinstance(
                losses, nn.ModuleList):
            losses = [losses]
        total = 0.0
        for loss_module in losses:
            total = total + loss_module(
                seg_logits,
                seg_label,
                weight=None,
                ignore_index=self.ignore_index,
                reduction_override='none')
        return total
