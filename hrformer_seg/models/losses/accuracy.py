"""Pixel accuracy of segmentation logits, the ``acc_seg`` entry of the logs."""
from typing import Optional

import torch


def accuracy(seg_logits: torch.Tensor,
             seg_label: torch.Tensor,
             ignore_index: Optional[int] = 255) -> torch.Tensor:
    """Percentage of labelled pixels whose arg-max class is the label.

    Args:
        seg_logits: (N, C, H, W) class scores.
        seg_label: (N, H, W) integer labels, same spatial size as the scores.
        ignore_index: label value that is not counted; None counts every pixel.

    Returns:
        A scalar tensor in [0, 100]; 0 when no pixel is labelled.
    """
    if seg_logits.shape[0] != seg_label.shape[0] or \
            seg_logits.shape[2:] != seg_label.shape[1:]:
        raise ValueError(f'accuracy: logits {tuple(seg_logits.shape)} and '
                         f'labels {tuple(seg_label.shape)} do not match')
    with torch.no_grad():
        pred = seg_logits.argmax(dim=1)
        if ignore_index is None:
            valid = torch.ones_like(seg_label, dtype=torch.bool)
        else:
            valid = seg_label != ignore_index
        num_valid = valid.sum()
        correct = ((pred == seg_label) & valid).sum()
        return correct.float() * 100.0 / num_valid.clamp(min=1).float()
