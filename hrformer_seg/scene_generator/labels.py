"""The Cityscapes classes the generator draws, and pixel statistics."""
from typing import Dict, Iterable, Tuple

import numpy as np

# Cityscapes label IDs and train IDs of the classes the generator draws (as in
# cityscapesscripts.helpers.labels; tests check them against it).
LABEL_IDS: Dict[str, int] = {
    'unlabeled': 0, 'ego vehicle': 1, 'road': 7, 'sidewalk': 8,
    'building': 11, 'wall': 12, 'fence': 13, 'pole': 17,
    'traffic sign': 20, 'vegetation': 21, 'terrain': 22, 'sky': 23,
    'person': 24, 'car': 26,
}
TRAIN_IDS: Dict[str, int] = {
    'unlabeled': 255, 'ego vehicle': 255, 'road': 0, 'sidewalk': 1,
    'building': 2, 'wall': 3, 'fence': 4, 'pole': 5, 'traffic sign': 7,
    'vegetation': 8, 'terrain': 9, 'sky': 10, 'person': 11, 'car': 13,
}
#: Names of the train classes the generator draws, in train-ID order.
DRAWN_CLASSES: Tuple[str, ...] = tuple(
    name for name, tid in sorted(TRAIN_IDS.items(), key=lambda kv: kv[1])
    if tid != 255)

#: Classes that may be left out of the scenes (``exclude``): their objects
#: simply vanish, leaving what was behind them.
OPTIONAL_CLASSES: Tuple[str, ...] = ('wall', 'fence', 'traffic sign',
                                     'person')


def _id_to_train_id() -> np.ndarray:
    """(256,) uint8 lookup table label ID -> train ID (255 elsewhere)."""
    table = np.full(256, 255, dtype=np.uint8)
    for name, label_id in LABEL_IDS.items():
        table[label_id] = TRAIN_IDS[name]
    return table


#: (256,) uint8: ``ID_TO_TRAIN_ID[label_ids]`` maps a label-ID map to train
#: IDs, 255 for every ignored or unknown ID.
ID_TO_TRAIN_ID: np.ndarray = _id_to_train_id()


def class_pixel_shares(label_maps: Iterable[np.ndarray],
                       num_classes: int = 19,
                       ignore_index: int = 255) -> Dict[str, np.ndarray]:
    """Per-class pixel share over train-ID maps.

    Args:
        label_maps: (H, W) integer train-ID arrays (any sizes).
        num_classes: number of train classes.
        ignore_index: the ignored value.

    Returns:
        ``share``: (num_classes,) fraction of all pixels per class,
        ``images``: (num_classes,) fraction of images containing the class,
        ``ignored``: fraction of ignored pixels (0-d array).
    """
    counts = np.zeros(num_classes + 1, np.int64)
    present = np.zeros(num_classes, np.int64)
    n = 0
    for lab in label_maps:
        lab = np.asarray(lab).ravel()
        c = np.bincount(np.where(lab == ignore_index, num_classes, lab),
                        minlength=num_classes + 1)
        counts += c[:num_classes + 1]
        present += c[:num_classes] > 0
        n += 1
    total = max(counts.sum(), 1)
    return dict(share=counts[:num_classes] / total,
                images=present / max(n, 1),
                ignored=np.array(counts[num_classes] / total))
