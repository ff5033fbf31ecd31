"""Datasets and data transforms."""
from . import transforms  # noqa: F401
from .basesegdataset import BaseSegDataset
from .cityscapes import CityscapesDataset
from .transforms import (
    LoadAnnotations,
    LoadImageFromFile,
    PackSegInputs,
    PhotoMetricDistortion,
    RandomCrop,
)

__all__ = [
    'BaseSegDataset', 'CityscapesDataset', 'LoadAnnotations',
    'LoadImageFromFile', 'PackSegInputs', 'PhotoMetricDistortion',
    'RandomCrop'
]
