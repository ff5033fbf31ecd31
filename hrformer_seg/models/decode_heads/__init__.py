"""Decode heads (registered in MODELS)."""
from .decode_head import BaseDecodeHead
from .fcn_head import FCNHead
from .ocr_head import ObjectAttentionBlock, OCRHead, SpatialGather

__all__ = [
    'BaseDecodeHead', 'FCNHead', 'OCRHead', 'ObjectAttentionBlock',
    'SpatialGather'
]
