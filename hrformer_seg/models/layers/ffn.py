"""HRFormer feed-forward network: 1x1 conv, depthwise 3x3 conv, 1x1 conv."""
from typing import Optional

from mmcv.cnn import build_norm_layer
from torch import Tensor, nn


class MlpDWBN(nn.Module):
    """FFN with a depthwise 3x3 convolution between the two 1x1 convolutions.

    ``fc1`` (1x1, C -> hidden) -> ``norm1`` -> GELU -> ``dw3x3`` (depthwise
    3x3) -> ``norm2`` -> GELU -> ``fc2`` (1x1, hidden -> C_out) -> ``norm3``
    -> GELU. All convolutions have a bias, as in the official HRFormer, and
    the last GELU follows the last norm layer.

    Args:
        in_channels: input channels ``C``.
        hidden_channels: channels of the inner layers.
        out_channels: output channels; defaults to ``in_channels``.
        norm_cfg: mmcv config of the norm layers (BN, SyncBN, ...).
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int,
                 out_channels: Optional[int] = None,
                 norm_cfg: Optional[dict] = None) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        norm_cfg = norm_cfg or dict(type='BN')
        self.fc1 = nn.Conv2d(in_channels, hidden_channels, 1)
        self.norm1 = build_norm_layer(norm_cfg, hidden_channels)[1]
        self.dw3x3 = nn.Conv2d(
            hidden_channels,
            hidden_channels,
            3,
            padding=1,
            groups=hidden_channels)
        self.norm2 = build_norm_layer(norm_cfg, hidden_channels)[1]
        self.fc2 = nn.Conv2d(hidden_channels, out_channels, 1)
        self.norm3 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, H, W) -> (N, C_out, H, W), any memory format."""
        x = self.act(self.norm1(self.fc1(x)))
        x = self.act(self.norm2(self.dw3x3(x)))
        return self.act(self.norm3(self.fc2(x)))
