"""Datasets and data transforms."""
from . import transforms  # noqa: F401
from .ade import ADE20KDataset
from .basesegdataset import BaseSegDataset
from .cityscapes import CityscapesDataset
from .coco_stuff import COCOStuff10KDataset
from .folder import FolderSegDataset
from .pascal_context import PascalContextDataset59
from .transforms import (
    LoadAnnotations,
    LoadImageFromFile,
    PackSegInputs,
    PhotoMetricDistortion,
    RandomCrop,
)

__all__ = [
    'ADE20KDataset', 'BaseSegDataset', 'COCOStuff10KDataset',
    'CityscapesDataset', 'FolderSegDataset', 'PascalContextDataset59',
    'LoadAnnotations', 'LoadImageFromFile', 'PackSegInputs',
    'PhotoMetricDistortion', 'RandomCrop'
]
