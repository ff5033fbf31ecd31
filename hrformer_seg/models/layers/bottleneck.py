"""ResNet bottleneck block (expansion 4) used by the first HRFormer stage."""
from typing import Optional

from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from ..utils.activation_memory import ActivationMemoryMixin


class Bottleneck(ActivationMemoryMixin, nn.Module):
    """1x1 conv -> 3x3 conv -> 1x1 conv (x4 channels), each with a norm layer,
    ReLU after the first two and after the residual sum. Convolutions have no
    bias. A 1x1 conv + norm ``downsample`` projects the shortcut when the
    channels or the stride change.

    A unit of the activation memory setting (its ``activation_memory``, see
    :mod:`hrformer_seg.models.utils.activation_memory`): 'lean' keeps the
    convolution outputs and recomputes norms and ReLUs in backward.

    Args:
        in_channels: input channels.
        planes: inner channels; the output has ``planes * 4``.
        stride: stride of the 3x3 convolution.
        norm_cfg: mmcv config of the norm layers.
    """

    expansion = 4

    def __init__(self,
                 in_channels: int,
                 planes: int,
                 stride: int = 1,
                 norm_cfg: Optional[dict] = None) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, planes)[1]
        self.conv2 = nn.Conv2d(
            planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)[1]
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = build_norm_layer(norm_cfg, out_channels)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(
                    in_channels, out_channels, 1, stride=stride, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])

    def _forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C_in, H, W) -> (N, 4 * planes, H / stride, W / stride)."""
        return self.run_with_activation_memory(self._forward, x)
