"""Data transforms. mmcv's Resize, RandomResize, RandomFlip and TestTimeAug
are used as they are (found in mmengine's root TRANSFORMS registry)."""
from .formatting import PackSegInputs
from .loading import (
    CorruptFileError,
    LabelMapWarning,
    LoadAnnotations,
    LoadImageFromFile,
    check_complete,
)
from .transforms import PhotoMetricDistortion, RandomCrop

__all__ = [
    'CorruptFileError', 'LabelMapWarning', 'LoadAnnotations',
    'LoadImageFromFile', 'PackSegInputs', 'PhotoMetricDistortion',
    'RandomCrop', 'check_complete'
]
