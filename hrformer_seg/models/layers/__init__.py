"""Small building blocks of the models."""
from .bottleneck import Bottleneck
from .ffn import MlpDWBN
from .split_concat_conv import SplitConcatConv
from .transformer_block import HRFormerBlock
from .window_attention import (
    LocalWindowAttention,
    relative_position_index,
    window_padding,
)
from .winograd_conv import WinogradConv2d

__all__ = [
    'Bottleneck', 'MlpDWBN', 'HRFormerBlock', 'LocalWindowAttention',
    'relative_position_index', 'SplitConcatConv', 'window_padding',
    'WinogradConv2d'
]
