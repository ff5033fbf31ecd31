"""Models: backbones, decode heads, losses, samplers, segmentors and the data
preprocessor. Importing this package registers them all."""
from . import backbones, decode_heads, layers, losses, samplers, segmentors  # noqa: F401
from .data_preprocessor import SegDataPreProcessor

__all__ = ['SegDataPreProcessor']
