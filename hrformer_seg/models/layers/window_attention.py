"""Multi-head self-attention inside non-overlapping local windows (HRFormer).

The feature map is zero-padded to a multiple of the window size (the padding
is split between the two sides, the top/left side getting ``pad // 2``), cut
into ``window_size x window_size`` windows, attended within each window with a
learned relative position bias, and cropped back to its size.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def relative_position_index(window_size: int) -> Tensor:
    """Index into the relative position bias table for every token pair.

    Tokens of a window are numbered row by row. For tokens ``i`` at ``(hi,
    wi)`` and ``j`` at ``(hj, wj)`` the offsets ``dh = hi - hj`` and ``dw =
    wi - wj`` lie in ``[-(w - 1), w - 1]``; the index is ``(dh + w - 1) * (2w
    - 1) + (dw + w - 1)`` (the layout of Swin Transformer and HRFormer).

    Args:
        window_size: ``w``.

    Returns:
        (w*w, w*w) int64 tensor with values in ``[0, (2w - 1)^2)``.
    """
    coords = torch.arange(window_size)
    hh, ww = torch.meshgrid(coords, coords, indexing='ij')
    hh, ww = hh.flatten(), ww.flatten()
    dh = hh[:, None] - hh[None, :] + (window_size - 1)
    dw = ww[:, None] - ww[None, :] + (window_size - 1)
    return dh * (2 * window_size - 1) + dw


def window_padding(size: int, window_size: int) -> Tuple[int, int]:
    """Zero padding ``(before, after)`` that makes ``size`` a multiple of
    ``window_size``; ``before`` gets the smaller half."""
    pad = -size % window_size
    return pad // 2, pad - pad // 2


class LocalWindowAttention(nn.Module):
    """Local-window multi-head self-attention with relative position bias.

    Matches the attention of the official HRFormer: q/k/v projections with
    bias (stored here as one ``qkv`` linear layer, rows ordered q, k, v), q
    scaled by ``head_dim ** -0.5``, a bias from a ``(2w - 1)^2 x num_heads``
    table added to the attention logits, an output projection ``proj``, no
    dropout. Padded tokens take part in the attention as zero vectors unless
    ``mask_padding`` is set.

    Args:
        embed_dims: channels ``C`` of the input and output.
        num_heads: number of attention heads; must divide ``embed_dims``.
        window_size: side ``w`` of the square windows.
        mask_padding: if True, keys at padded positions get ``-inf`` logits.
            The official model does not mask them (default False).
        fused: if True, use :func:`torch.nn.functional.
            scaled_dot_product_attention` with the bias as additive mask;
            otherwise explicit matmul + softmax. Both compute the same.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int = 7,
                 mask_padding: bool = False,
                 fused: bool = True) -> None:
        super().__init__()
        if embed_dims % num_heads != 0:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible '
                             f'by num_heads ({num_heads})')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.scale = self.head_dims**-0.5
        self.window_size = window_size
        self.mask_padding = mask_padding
        self.fused = fused

        self.qkv = nn.Linear(embed_dims, 3 * embed_dims)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        # derived from window_size, so not saved in checkpoints
        self.register_buffer(
            'relative_position_index',
            relative_position_index(window_size),
            persistent=False)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'window_size={self.window_size}, '
                f'mask_padding={self.mask_padding}, fused={self.fused}')

    def relative_position_bias(self) -> Tensor:
        """(num_heads, w*w, w*w) bias added to the attention logits."""
        area = self.window_size**2
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)]
        return bias.view(area, area, self.num_heads).permute(2, 0, 1)

    def _padding_mask(self, height: int, width: int, device: torch.device,
                      dtype: torch.dtype) -> Tensor:
        """(num_windows, 1, 1, w*w) additive mask, ``-inf`` at padding."""
        w = self.window_size
        top, bottom = window_padding(height, w)
        left, right = window_padding(width, w)
        valid = torch.zeros(height + top + bottom, width + left + right,
                            dtype=torch.bool, device=device)
        valid[top:top + height, left:left + width] = True
        hp, wp = valid.shape
        valid = valid.view(hp // w, w, wp // w, w).transpose(1, 2)
        valid = valid.reshape(-1, 1, 1, w * w)
        mask = torch.zeros(valid.shape, dtype=dtype, device=device)
        return mask.masked_fill_(~valid, float('-inf'))

    def forward(self, x: Tensor) -> Tensor:
        """Attend within local windows.

        Args:
            x: (N, H, W, C) tokens on their grid, any H and W.

        Returns:
            (N, H, W, C) tensor (possibly a non-contiguous view).
        """
        n, height, width, channels = x.shape
        w = self.window_size
        top, bottom = window_padding(height, w)
        left, right = window_padding(width, w)
        if top or bottom or left or right:
            x = F.pad(x, (0, 0, left, right, top, bottom))
        hp, wp = height + top + bottom, width + left + right
        nh, nw = hp // w, wp // w

        # (N, Hp, Wp, C) -> (N * nh * nw, w * w, C): windows, tokens row-major
        windows = x.reshape(n, nh, w, nw, w, channels).transpose(2, 3)
        windows = windows.reshape(n * nh * nw, w * w, channels)
        qkv = self.qkv(windows).view(n * nh * nw, w * w, 3, self.num_heads,
                                     self.head_dims)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, heads, L, hd)

        # (1, heads, L, L); a 4-D mask lets torch pick its flash CPU kernel
        bias = self.relative_position_bias().to(q.dtype).unsqueeze(0)
        if self.mask_padding and (top or bottom or left or right):
            mask = self._padding_mask(height, width, x.device, q.dtype)
            bias = bias + mask  # (nh * nw, heads, L, L)
            # windows of all images share one mask: split the batch axis
            q, k, v = (t.unflatten(0, (n, nh * nw)) for t in (q, k, v))

        if self.fused:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=bias, scale=self.scale)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1) + bias
            out = attn.softmax(dim=-1) @ v

        # (B, heads, L, hd) -> (B, L, C)
        out = out.reshape(n * nh * nw, self.num_heads, w * w, self.head_dims)
        out = self.proj(out.transpose(1, 2).reshape(n * nh * nw, w * w,
                                                    channels))
        out = out.view(n, nh, nw, w, w, channels).transpose(2, 3)
        out = out.reshape(n, hp, wp, channels)
        if hp != height or wp != width:
            out = out[:, top:top + height, left:left + width]
        return out
