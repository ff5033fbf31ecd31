"""Losses (registered in MODELS) and the pixel accuracy helper."""
from .accuracy import accuracy
from .cross_entropy_loss import CrossEntropyLoss

__all__ = ['CrossEntropyLoss', 'accuracy']
