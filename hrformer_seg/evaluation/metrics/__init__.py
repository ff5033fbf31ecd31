"""Segmentation metrics."""
from .citys_metric import CityscapesMetric, train_id_to_label_id
from .iou_metric import (
    IoUMetric,
    areas_from_confusion,
    areas_to_metrics,
    confusion_matrix,
    intersect_and_union,
)

__all__ = [
    'CityscapesMetric', 'IoUMetric', 'areas_from_confusion',
    'areas_to_metrics', 'confusion_matrix', 'intersect_and_union',
    'train_id_to_label_id'
]
