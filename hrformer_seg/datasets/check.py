"""Check a folder of images and label maps for the classic mistakes.

Used by ``tools/analysis_tools/check_dataset.py``; the problems inside one
mask are worded as :class:`~hrformer_seg.datasets.LoadAnnotations` words
them in training (:mod:`hrformer_seg.datasets.label_checks`).
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
from mmengine.utils import ProgressBar

from .basesegdataset import scan_files, scan_images
from .label_checks import (
    binary_0_255_message,
    invalid_values,
    invalid_values_message,
    is_binary_0_255,
    size_mismatch_message,
    value_counts,
)
from .transforms.loading import LoadAnnotations, LoadImageFromFile


@dataclass
class SplitReport:
    """What :func:`check_split` found in one split."""
    name: str
    pairs: int = 0
    errors: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    #: pixels of each class (index: class) over the split
    pixels: Optional[np.ndarray] = None
    #: pixels of the images in which each class appears
    image_pixels: Optional[np.ndarray] = None
    ignored: int = 0


def median_frequency_weights(pixels: np.ndarray,
                             image_pixels: np.ndarray) -> np.ndarray:
    """Median frequency balancing (Eigen & Fergus, 2015): the weight of
    class c is ``median(freq) / freq(c)`` where ``freq(c)`` is the pixels of
    class c divided by the pixels of the images in which c appears; 0 for
    a class that never appears."""
    present = pixels > 0
    freq = np.zeros(len(pixels))
    freq[present] = pixels[present] / image_pixels[present]
    weights = np.zeros(len(pixels))
    if present.any():
        weights[present] = np.median(freq[present]) / freq[present]
    return weights


def check_split(name: str,
                img_dir: str,
                seg_dir: str,
                img_suffixes: Sequence[str] = ('.jpg', '.png', '.jpeg'),
                seg_map_suffix: str = '.png',
                num_classes: Optional[int] = None,
                ignore_index: int = 255,
                reduce_zero_label: bool = False,
                progress: bool = True) -> SplitReport:
    """Check every image / label-map pair of a split.

    Errors: an image without its mask, a mask without its image, an
    unreadable or truncated file, a several-channel mask, a mask of another
    size than its image, values that are no class (with ``num_classes``)
    nor ``ignore_index``, a mask of only 0 and 255. Warnings: a class
    without any pixel (with ``num_classes``).
    """
    report = SplitReport(name)
    for folder, what in ((img_dir, 'image'), (seg_dir, 'label')):
        if not osp.isdir(folder):
            report.errors.append(f'{what} folder {folder} does not exist')
    if report.errors:
        return report
    suffixes = tuple(img_suffixes)
    images, twice = scan_images(img_dir, suffixes)
    report.errors += [f'{kept} and {other}: two images of one name'
                      for kept, other in twice]
    masks = {rel[:-len(seg_map_suffix)]: osp.join(seg_dir, rel)
             for rel in scan_files(seg_dir, seg_map_suffix)}
    for stem in sorted(set(images) - set(masks)):
        report.errors.append(
            f'{images[stem]}: image without label map (expected '
            f'{osp.join(seg_dir, stem + seg_map_suffix)})')
    for stem in sorted(set(masks) - set(images)):
        report.errors.append(f'{masks[stem]}: label map without image')
    pairs = sorted(set(images) & set(masks))
    report.pairs = len(pairs)
    if not pairs and not images:
        report.errors.append(f'no images ({", ".join(suffixes)}) in '
                             f'{img_dir}')
    k = num_classes
    if k is not None:
        report.pixels = np.zeros(k, np.int64)
        report.image_pixels = np.zeros(k, np.int64)
    bar = ProgressBar(len(pairs)) if progress and pairs else None
    for stem in pairs:
        if bar is not None:
            bar.update()
        problem = _check_pair(images[stem], masks[stem], report, k,
                              ignore_index, reduce_zero_label)
        if problem:
            report.errors.append(problem)
    if bar is not None:
        print()
    if k is not None and report.pairs:
        empty = [i for i in range(k) if report.pixels[i] == 0]
        if empty:
            report.warnings.append(
                f'classes {empty} have no pixel in the {name} split: the '
                'model cannot learn them there, their IoU is NaN')
    return report


def _check_pair(img_path: str, seg_path: str, report: SplitReport,
                num_classes: Optional[int], ignore_index: int,
                reduce_zero_label: bool) -> Optional[str]:
    """The first problem of one pair (None when fine); counts pixels."""
    try:  # the pipeline's readers: the same errors as in training
        shape = LoadImageFromFile()(dict(img_path=img_path))['ori_shape']
        label = LoadAnnotations().read_label(seg_path)
    except (OSError, ValueError) as e:
        return str(e)
    if label.shape != tuple(shape):
        return size_mismatch_message(seg_path, label.shape, img_path, shape)
    present, counts = value_counts(label)
    if is_binary_0_255(present, ignore_index):
        return binary_0_255_message(seg_path, ignore_index)
    if num_classes is None:
        return None
    classes = present.astype(np.int64)
    if reduce_zero_label:  # 0 -> ignored, v -> v - 1
        classes = np.where((classes == 0) | (classes == ignore_index),
                           ignore_index, classes - 1)
    bad = invalid_values(classes, num_classes, ignore_index)
    if bad:
        return invalid_values_message(seg_path, bad, num_classes,
                                      ignore_index, reduce_zero_label)
    valid = classes != ignore_index
    report.ignored += int(counts[~valid].sum())
    np.add.at(report.pixels, classes[valid], counts[valid])
    report.image_pixels[classes[valid]] += label.size
    return None


def format_report(report: SplitReport,
                  classes: Optional[Sequence[str]] = None) -> str:
    """The report as the checker prints it."""
    lines = [f'== {report.name}: {report.pairs} image/label pairs, '
             f'{len(report.errors)} errors, {len(report.warnings)} '
             'warnings']
    lines += [f'ERROR   {e}' for e in report.errors]
    lines += [f'WARNING {w}' for w in report.warnings]
    if report.pixels is not None and report.pixels.sum() > 0:
        total = report.pixels.sum()
        weights = median_frequency_weights(report.pixels,
                                           report.image_pixels)
        names = list(classes) if classes else [
            f'class {i}' for i in range(len(report.pixels))]
        width = max(len(n) for n in names)
        lines.append(f'pixel frequencies ({total} labelled pixels, '
                     f'{report.ignored} ignored) and suggested class '
                     'weights (median frequency balancing: '
                     'median(freq) / freq(c), freq(c) = pixels of c / pixels '
                     'of the images holding c):')
        for i, name in enumerate(names):
            lines.append(f'  {i:3d} {name:<{width}} '
                         f'{report.pixels[i] / total:8.2%} '
                         f'weight {weights[i]:.3f}')
        lines.append('  as a loss: loss_decode=dict(type='
                     "'CrossEntropyLoss', class_weight=["
                     + ', '.join(f'{w:.3f}' for w in weights) + '])')
    return '\n'.join(lines)
