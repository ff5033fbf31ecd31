"""A tiny generated dataset in the folder layout (FolderSegDataset), with
three classes whose colours the model can learn, and the classic label
mistakes to plant in it."""
from pathlib import Path
from typing import Dict, Tuple

import cv2
import numpy as np

CLASSES = ('background', 'disc', 'bar')
# BGR colour of each class in the images
COLOURS = np.array([[40, 40, 40], [30, 200, 60], [200, 60, 30]], np.uint8)


def _pair(rng: np.random.Generator, size: Tuple[int, int]):
    h, w = size
    label = np.zeros((h, w), np.uint8)
    yy, xx = np.mgrid[:h, :w]
    cy, cx, r = rng.integers(h // 4, 3 * h // 4), rng.integers(
        w // 4, 3 * w // 4), rng.integers(h // 6, h // 3)
    label[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 1
    x0 = int(rng.integers(0, w - w // 5))
    label[:, x0:x0 + w // 6] = 2
    image = COLOURS[label] + rng.integers(0, 30, (h, w, 3), dtype=np.uint8)
    return image, label


def make_folder_dataset(root: Path, splits: Dict[str, int] = None,
                        size: Tuple[int, int] = (48, 64),
                        seed: int = 0) -> Path:
    """``root/images/{split}/NAME.jpg|png`` and
    ``root/annotations/{split}/NAME.png``; the train images alternate
    between JPEG and PNG."""
    rng = np.random.default_rng(seed)
    for split, count in (splits or dict(train=4, val=2)).items():
        (root / 'images' / split).mkdir(parents=True, exist_ok=True)
        (root / 'annotations' / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image, label = _pair(rng, size)
            ext = '.jpg' if split == 'train' and i % 2 else '.png'
            cv2.imwrite(str(root / 'images' / split / f'{split}_{i}{ext}'),
                        image)
            cv2.imwrite(str(root / 'annotations' / split / f'{split}_{i}.png'),
                        label)
    return root


def plant_traps(root: Path, split: str = 'train') -> Dict[str, Path]:
    """Adds a 0/255 mask, a mask with value 7, a mask of the wrong size
    and an image without mask to ``split``; returns their paths."""
    rng = np.random.default_rng(1)
    images, masks = root / 'images' / split, root / 'annotations' / split
    traps = {}
    for name in ('binary', 'seven', 'small', 'lone'):
        image, label = _pair(rng, (48, 64))
        cv2.imwrite(str(images / f'{name}.png'), image)
        if name == 'binary':
            label = (label > 0).astype(np.uint8) * 255
        elif name == 'seven':
            label[:4, :4] = 7
        elif name == 'small':
            label = label[:40, :60]
        if name != 'lone':
            cv2.imwrite(str(masks / f'{name}.png'), label)
        traps[name] = (images if name == 'lone' else masks) / f'{name}.png'
    return traps
