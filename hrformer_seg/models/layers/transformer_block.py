"""HRFormer transformer block: window attention + depthwise-conv FFN."""
from typing import Optional

from mmcv.cnn.bricks import DropPath
from torch import Tensor, nn

from ..utils.activation_memory import ActivationMemoryMixin
from .ffn import MlpDWBN
from .window_attention import LocalWindowAttention


class HRFormerBlock(ActivationMemoryMixin, nn.Module):
    """``x += DropPath(Attn(LN(x)))``, then ``x += DropPath(FFN(LN(x)))``.

    The attention is :class:`LocalWindowAttention`, the FFN :class:`MlpDWBN`
    with ``mlp_ratio * C`` hidden channels; the LayerNorms use eps 1e-6.
    Tokens stay in (N, H, W, C) layout inside the block; the FFN convolutions
    see them as a channels-last (N, C, H, W) tensor, so no copies are made
    between the two halves. The drop path is mmcv's ``DropPath`` (timm's
    stochastic depth, as in the official HRFormer).

    A unit of the activation memory setting (its ``activation_memory``, see
    :mod:`hrformer_seg.models.utils.activation_memory`): 'lean' keeps the
    dense convolution and fused attention outputs and recomputes the rest
    in backward; 'checkpoint' recomputes the whole block.

    Args:
        channels: channels ``C`` of input and output.
        num_heads: attention heads.
        window_size: side of the attention windows.
        mlp_ratio: FFN hidden channels / ``C``.
        drop_path: drop path probability of both residual branches.
        norm_cfg: mmcv config of the FFN's norm layers.
        mask_padding: mask padded keys in the attention (official: False).
        fused_attn: use the fused scaled-dot-product attention kernel.
    """

    def __init__(self,
                 channels: int,
                 num_heads: int,
                 window_size: int = 7,
                 mlp_ratio: float = 4.0,
                 drop_path: float = 0.0,
                 norm_cfg: Optional[dict] = None,
                 mask_padding: bool = False,
                 fused_attn: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels, eps=1e-6)
        self.attn = LocalWindowAttention(
            channels,
            num_heads,
            window_size=window_size,
            mask_padding=mask_padding,
            fused=fused_attn)
        self.norm2 = nn.LayerNorm(channels, eps=1e-6)
        self.mlp = MlpDWBN(
            channels, int(channels * mlp_ratio), norm_cfg=norm_cfg)
        self.drop_path = DropPath(drop_path) if drop_path > 0 \
            else nn.Identity()

    def _forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)  # (N, H, W, C) view
        x = x + self.drop_path(self.attn(self.norm1(x)))
        ffn_in = self.norm2(x).permute(0, 3, 1, 2)  # channels-last NCHW
        x = x + self.drop_path(self.mlp(ffn_in).permute(0, 2, 3, 1))
        return x.permute(0, 3, 1, 2)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, H, W) -> (N, C, H, W), returned in channels-last
        memory format."""
        return self.run_with_activation_memory(self._forward, x)
