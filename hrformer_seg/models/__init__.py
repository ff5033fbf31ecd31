"""Models: backbones, decode heads, losses, segmentors and the data preprocessor."""
from . import backbones, decode_heads, layers, losses, segmentors  # noqa: F401
