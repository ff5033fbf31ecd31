"""Backbones."""
from .hrformer import HRFormer, HRFormerModule

__all__ = ['HRFormer', 'HRFormerModule']
