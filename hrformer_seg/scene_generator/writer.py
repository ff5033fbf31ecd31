"""Writes generated scenes as a Cityscapes-format dataset.

Layout (the real one): ``leftImg8bit/{split}/<city>/<city>_<seq>_<frame>
_leftImg8bit.png`` (8-bit RGB) and, for train and val,
``gtFine/{split}/<city>/..._gtFine_polygons.json`` and
``..._gtFine_labelIds.png``. Image ``i`` of a split depends only on
``(seed, split, i)``, so the files are the same whatever the number of
worker processes.
"""
import json
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Sequence, Tuple

import cv2
import numpy as np

from .scene import Scene, render_scene

#: Real Cityscapes city names per split (the generator uses them round-robin).
CITIES: Dict[str, Tuple[str, ...]] = {
    'train': ('aachen', 'bochum', 'bremen'),
    'val': ('frankfurt', 'lindau', 'munster'),
    'test': ('berlin', 'bielefeld', 'bonn'),
}
#: The split's entry in every scene's seed sequence.
SPLIT_INDEX: Dict[str, int] = {'train': 0, 'val': 1, 'test': 2}


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``split``: independent of nproc."""
    return np.random.default_rng(
        np.random.SeedSequence([seed, SPLIT_INDEX[split], index]))


def scene_name(split: str, index: int) -> Tuple[str, str]:
    """``(city, '<city>_<seq:06d>_<frame:06d>')`` of image ``index``."""
    cities = CITIES[split]
    city = cities[index % len(cities)]
    return city, f'{city}_{index // len(cities):06d}_000019'


def write_scene(scene: Scene, out_dir: str, split: str, index: int,
                with_labels: bool = True) -> str:
    """Writes one scene's image and (``with_labels``) annotations.

    Args:
        scene: the rendered scene.
        out_dir: dataset root.
        split: 'train', 'val' or 'test'.
        index: image index in the split (gives the city and file name).
        with_labels: also write the polygon JSON and the label-ID map.

    Returns:
        The file name stem, ``<city>_<seq>_<frame>``.
    """
    city, stem = scene_name(split, index)
    img_dir = osp.join(out_dir, 'leftImg8bit', split, city)
    os.makedirs(img_dir, exist_ok=True)
    cv2.imwrite(osp.join(img_dir, f'{stem}_leftImg8bit.png'),
                cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
    if with_labels:
        gt_dir = osp.join(out_dir, 'gtFine', split, city)
        os.makedirs(gt_dir, exist_ok=True)
        with open(osp.join(gt_dir, f'{stem}_gtFine_polygons.json'), 'w') as f:
            json.dump(scene.to_json(), f)
        cv2.imwrite(osp.join(gt_dir, f'{stem}_gtFine_labelIds.png'),
                    scene.label_ids)
    return stem


class SceneTask(NamedTuple):
    """One image to render and write (picklable, for worker processes)."""

    out_dir: str
    split: str
    index: int
    height: int
    width: int
    seed: int
    with_labels: bool
    exclude: Tuple[str, ...]


def run_task(task: SceneTask) -> str:
    """Renders and writes the scene of ``task``; returns its file stem."""
    scene = render_scene(task.height, task.width,
                         scene_rng(task.seed, task.split, task.index),
                         task.exclude)
    return write_scene(scene, task.out_dir, task.split, task.index,
                       task.with_labels)


def generate_cityscapes_like(out_dir: str,
                             num_train: int,
                             num_val: int,
                             num_test: int = 0,
                             height: int = 128,
                             width: int = 256,
                             seed: int = 0,
                             nproc: int = 1,
                             show_progress: bool = True,
                             exclude: Sequence[str] = ()) -> Dict[str, int]:
    """Write a Cityscapes-format dataset of generated street scenes.

    The test split has images only. Train IDs
    (``*_gtFine_labelTrainIds.png``) come from the JSON with
    ``tools/dataset_converters/cityscapes.py``, as for the real dataset.

    Args:
        out_dir: dataset root to create (e.g. ``data/cityscapes_demo``).
        num_train: number of training images.
        num_val: number of validation images.
        num_test: number of test images (no labels).
        height: image height.
        width: image width.
        seed: image ``i`` of a split depends only on (seed, split, i).
        nproc: worker processes.
        show_progress: print a progress bar.
        exclude: classes not to draw (see
            :func:`~hrformer_seg.scene_generator.render_scene`).

    Returns:
        Number of images written per split.

    Raises:
        ValueError: a negative number of images.
    """
    tasks: List[SceneTask] = []
    counts = dict(train=num_train, val=num_val, test=num_test)
    for split, num in counts.items():
        if num < 0:
            raise ValueError(f'number of {split} images must be >= 0, '
                             f'got {num}')
        tasks += [SceneTask(out_dir, split, i, height, width, seed,
                            split != 'test', tuple(exclude))
                  for i in range(num)]
    if not tasks:
        return counts
    if show_progress:
        from mmengine.utils import track_parallel_progress, track_progress
        if nproc > 1:
            track_parallel_progress(run_task, tasks, nproc)
        else:
            track_progress(run_task, tasks)
    elif nproc > 1:
        from multiprocessing import Pool
        with Pool(nproc) as pool:
            pool.map(run_task, tasks)
    else:
        for task in tasks:
            run_task(task)
    return counts
