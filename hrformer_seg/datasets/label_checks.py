"""The label-map mistakes that make a training fail silently, as messages.

Shared by :class:`~hrformer_seg.datasets.transforms.LoadAnnotations` (raises
or warns while training) and ``tools/analysis_tools/check_dataset.py``
(reports every file of a dataset at once), so both say the same thing.

A label map holds one class index per pixel: 0 .. K-1 for the K classes
and the ignore value (255) for pixels that count nowhere.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np

#: how to write a correct mask, appended to the value errors
MASK_FORMAT = ('A label map must be a one-channel PNG holding a class index '
               'per pixel (0..K-1, 255 for ignored pixels); '
               'tools/analysis_tools/check_dataset.py checks a whole folder')


def value_counts(label: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The values present in ``label`` and how many pixels hold each."""
    if label.dtype == np.uint8:
        counts = np.bincount(label.ravel(), minlength=256)
        present = np.flatnonzero(counts)
        return present, counts[present]
    return np.unique(label, return_counts=True)


def invalid_values(present: Sequence[int], num_classes: int,
                   ignore_index: int = 255) -> List[int]:
    """Values that are neither a class index (< ``num_classes``) nor
    ``ignore_index``."""
    return [int(v) for v in present
            if not (0 <= v < num_classes or v == ignore_index)]


def invalid_values_message(filename: str, bad: Sequence[int],
                           num_classes: int, ignore_index: int = 255,
                           reduce_zero_label: bool = False) -> str:
    """Error text for values outside the classes, naming the file."""
    shown = list(bad)
    where = ''
    if reduce_zero_label:  # report the values as they are in the file
        shown = [v + 1 for v in bad]
        where = ' (reduce_zero_label=True: file value v is class v-1)'
    return (f'label map {filename} contains values {shown} that are not a '
            f'class of the {num_classes} classes (0..{num_classes - 1}) nor '
            f'ignore_index {ignore_index}{where}. Is num_classes right? '
            f'{MASK_FORMAT}')


def is_binary_0_255(present: Sequence[int], ignore_index: int = 255) -> bool:
    """True for a mask holding exactly the values 0 and ``ignore_index``:
    a black-and-white mask saved for viewing, not a label map."""
    return sorted(int(v) for v in present) == sorted({0, ignore_index})


def binary_0_255_message(filename: str, ignore_index: int = 255) -> str:
    """What a 0/255 mask means for training and how to fix it."""
    return (f'label map {filename} holds only the values 0 and '
            f'{ignore_index}: {ignore_index} is the ignore value, so its '
            'foreground pixels are ignored in the loss and the metrics (the '
            'model only learns class 0 and the IoU of class 1 is NaN or 0). '
            'If it is a binary mask, save it with 0 for background and 1 '
            'for the object (e.g. `(mask > 127).astype(np.uint8)`).')


def channels_message(filename: str, shape: Sequence[int]) -> str:
    """Error text for a colour (several-channel) mask."""
    return (f'label map {filename} has shape {tuple(shape)}: expected one '
            'channel of class indices, not a colour image (for Cityscapes, '
            'the *_gtFine_labelTrainIds.png maps; a colour-coded mask must '
            'be converted to indices first)')


def size_mismatch_message(filename: str, label_shape: Sequence[int],
                          img_path: Optional[str],
                          img_shape: Sequence[int]) -> str:
    """Error text for a mask whose size differs from its image's."""
    h, w = label_shape[:2]
    ih, iw = img_shape[:2]
    return (f'label map {filename} is {w}x{h} (width x height) but its '
            f'image {img_path} is {iw}x{ih}: every pixel of the image needs '
            'its label, resize the mask with nearest-neighbour interpolation '
            'or pair it with the right image')
