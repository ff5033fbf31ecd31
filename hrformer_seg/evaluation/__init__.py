"""Evaluation metrics."""
from . import metrics  # noqa: F401
from .metrics import CityscapesMetric, IoUMetric

__all__ = ['CityscapesMetric', 'IoUMetric']
