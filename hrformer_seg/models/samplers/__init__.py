"""Pixel samplers (registered in TASK_UTILS) used by the decode heads."""
from .ohem_pixel_sampler import OHEMPixelSampler

__all__ = ['OHEMPixelSampler']
