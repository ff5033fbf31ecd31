"""Per-pixel softmax cross-entropy with class weights and pixel weights."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from hrformer_seg.registry import MODELS


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy over the class dimension, as in MMSegmentation.

    The per-pixel loss ``l_i`` (already multiplied by ``class_weight`` of the
    pixel's label, 0 for ignored pixels) is multiplied by the optional pixel
    weight ``w_i`` (e.g. the 0/1 mask of an OHEM sampler) and reduced:

    * ``'mean'`` with ``avg_non_ignore=False``: ``sum(w_i * l_i) / (N*H*W)``,
      i.e. ignored and unselected pixels count in the denominator
      (MMSegmentation's default);
    * ``'mean'`` with ``avg_non_ignore=True``: divided by the number of
      pixels whose label is not ``ignore_index`` instead;
    * ``'sum'``: the plain sum; ``'none'``: the (N, H, W) map.

    Args:
        use_sigmoid: only False (softmax) is implemented.
        class_weight: one weight per class, or None.
        reduction: 'mean', 'sum' or 'none'.
        loss_weight: factor applied to the reduced loss.
        loss_name: key of this loss in the loss dict; it must start with
            ``loss_`` for mmengine to back-propagate it.
        avg_non_ignore: average over labelled pixels instead of all pixels.
        ignore_index: label value that contributes no loss.
    """

    def __init__(self,
                 use_sigmoid: bool = False,
                 class_weight: Optional[Sequence[float]] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce',
                 avg_non_ignore: bool = False,
                 ignore_index: int = 255) -> None:
        super().__init__()
        if use_sigmoid:
            raise NotImplementedError(
                'CrossEntropyLoss: use_sigmoid=True is not implemented; '
                'only softmax cross-entropy is supported')
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f'CrossEntropyLoss: reduction must be mean, sum '
                             f'or none, got {reduction!r}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f'CrossEntropyLoss: loss_name must start with '
                             f'"loss_", got {loss_name!r}')
        self.use_sigmoid = use_sigmoid
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.avg_non_ignore = avg_non_ignore
        self.ignore_index = ignore_index
        self._loss_name = loss_name
        if class_weight is not None:
            self.register_buffer(
                'class_weight',
                torch.tensor(list(class_weight), dtype=torch.float32),
                persistent=False)
        else:
            self.class_weight = None

    @property
    def loss_name(self) -> str:
        """Key of this loss in the loss dict."""
        return self._loss_name

    def forward(self,
                seg_logits: torch.Tensor,
                seg_label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                ignore_index: Optional[int] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Computes the loss.

        Args:
            seg_logits: (N, C, H, W) class scores.
            seg_label: (N, H, W) integer labels.
            weight: optional (N, H, W) per-pixel weight.
            ignore_index: overrides the constructor's ``ignore_index``.
            reduction_override: overrides the constructor's ``reduction``.

        Returns:
            The reduced loss times ``loss_weight`` (a scalar, or (N, H, W)
            for reduction 'none').
        """
        reduction = reduction_override or self.reduction
        if ignore_index is None:
            ignore_index = self.ignore_index
        if self.class_weight is not None and \
                self.class_weight.numel() != seg_logits.shape[1]:
            raise ValueError(
                f'CrossEntropyLoss: class_weight has '
                f'{self.class_weight.numel()} entries but the logits have '
                f'{seg_logits.shape[1]} classes')
        loss = F.cross_entropy(
            seg_logits,
            seg_label.long(),
            weight=self.class_weight,
            reduction='none',
            ignore_index=ignore_index)
        if weight is not None:
            loss = loss * weight.to(loss.dtype)
        if reduction == 'none':
            pass
        elif reduction == 'sum':
            loss = loss.sum()
        elif self.avg_non_ignore:
            num_labelled = (seg_label != ignore_index).sum().clamp(min=1)
            loss = loss.sum() / num_labelled.to(loss.dtype)
        else:
            loss = loss.mean()
        return self.loss_weight * loss
