"""Class names and colours used when a picture of a label map is drawn."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

Color = Tuple[int, int, int]


def cityscapes_metainfo() -> Dict[str, list]:
    """The 19 Cityscapes train classes and their official colours (RGB).

    Taken from ``cityscapesscripts`` (train IDs 0-18), the package the
    dataset code converts labels with, so names and colours cannot drift
    from the official ones.

    Returns:
        ``dict(classes=[19 names], palette=[19 [r, g, b] lists])``.
    """
    from cityscapesscripts.helpers.labels import trainId2label
    ids = sorted(i for i in trainId2label if 0 <= i < 255)
    return dict(
        classes=[trainId2label[i].name for i in ids],
        palette=[list(trainId2label[i].color) for i in ids])


def generate_palette(num_classes: int, seed: int = 42) -> List[Color]:
    """Distinct-looking random colours for label maps without a palette.

    Args:
        num_classes: how many colours.
        seed: the colours depend only on it, so every picture of a run uses
            the same colour for the same class.

    Returns:
        ``num_classes`` RGB tuples.
    """
    rng = np.random.RandomState(seed)
    colors = rng.randint(0, 256, size=(num_classes, 3))
    return [tuple(int(c) for c in color) for color in colors]


def resolve_meta(dataset_meta: Optional[dict],
                 num_labels: int = 0) -> Tuple[List[str], List[Color]]:
    """Class names and a palette long enough for the labels to draw.

    Args:
        dataset_meta: ``dict(classes=..., palette=...)`` as datasets expose in
            ``metainfo``; ``None`` or a dict without ``classes`` means
            Cityscapes. A missing ``palette`` is generated.
        num_labels: the largest label to draw + 1; classes beyond the
            metainfo are named ``class<i>`` and get generated colours.

    Returns:
        ``(classes, palette)`` of equal length >= ``num_labels``.
    """
    meta = dict(dataset_meta or {})
    if not meta.get('classes'):
        meta = cityscapes_metainfo()
    classes = [str(name) for name in meta['classes']]
    palette = meta.get('palette')
    if palette is None or len(palette) == 0:
        palette = generate_palette(len(classes))
    palette = [tuple(int(c) for c in color) for color in palette]
    if len(palette) < len(classes):
        extra = generate_palette(len(classes))
        palette = palette + extra[len(palette):]
    count = max(len(classes), num_labels)
    if count > len(classes):
        classes = classes + [f'class{i}' for i in range(len(classes), count)]
        palette = palette + generate_palette(count)[len(palette):]
    return classes, palette[:count]


def colorize(label_map: np.ndarray, palette: Sequence[Color],
             ignore_color: Color = (0, 0, 0)) -> np.ndarray:
    """Paint a label map with a palette.

    Args:
        label_map: (H, W) integer labels.
        palette: one RGB colour per label; labels without a colour (e.g. the
            ignore index 255) get ``ignore_color``.
        ignore_color: colour of labels outside the palette.

    Returns:
        (H, W, 3) uint8 RGB image.
    """
    size = max(256, len(palette))
    # one extra row: every label outside [0, size) is looked up there
    lut = np.empty((size + 1, 3), dtype=np.uint8)
    lut[:] = ignore_color
    if len(palette):
        lut[:len(palette)] = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    labels = np.asarray(label_map).astype(np.int64)
    labels = np.where((labels < 0) | (labels >= size), size, labels)
    return lut[labels]
