"""Stochastic depth: drop the residual branch of whole samples."""
import torch
from torch import Tensor, nn


def drop_path(x: Tensor, drop_prob: float = 0.0,
              training: bool = False) -> Tensor:
    """Zero the whole of ``x`` for a random subset of samples.

    Each sample is kept with probability ``1 - drop_prob`` and the kept ones
    are scaled by ``1 / (1 - drop_prob)``, so the expectation is unchanged.

    Args:
        x: (N, ...) the output of a residual branch, any layout.
        drop_prob: probability of dropping one sample's branch.
        training: identity unless True.

    Returns:
        Tensor of the shape of ``x``.
    """
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
    keep = torch.empty(shape, dtype=x.dtype, device=x.device)
    keep.bernoulli_(keep_prob)
    return x * keep.div_(keep_prob)


class DropPath(nn.Module):
    """Module form of :func:`drop_path`, active only in training mode.

    Args:
        drop_prob: probability of dropping the branch of one sample.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f'drop_prob must be in [0, 1), got {drop_prob}')
        self.drop_prob = float(drop_prob)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, ...) -> same shape."""
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob:g}'
