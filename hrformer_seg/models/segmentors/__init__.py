"""Segmentors (registered in MODELS) and the test-time augmentation wrapper."""
from .base import BaseSegmentor
from .cascade_encoder_decoder import CascadeEncoderDecoder
from .encoder_decoder import EncoderDecoder
from .seg_tta import SegTTAModel

__all__ = [
    'BaseSegmentor', 'CascadeEncoderDecoder', 'EncoderDecoder', 'SegTTAModel'
]
