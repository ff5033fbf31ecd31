"""Intersection over union and pixel accuracy of semantic segmentation."""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement

from hrformer_seg.registry import METRICS

SUPPORTED = ('mIoU', 'mDice', 'mFscore')


def as_dict(sample) -> dict:
    """A data sample as the nested dict mmengine's Evaluator passes."""
    return sample.to_dict() if isinstance(sample, BaseDataElement) else sample


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor,
                     num_classes: int, ignore_index: int,
                     name: str = 'image') -> torch.Tensor:
    """Pixel counts of one image by (label, prediction) class pair.

    The one counting of the package: :func:`intersect_and_union` (and so
    :class:`IoUMetric`) and ``tools/analysis_tools/confusion_matrix.py``
    derive their areas from it.

    Args:
        pred: (H, W) predicted class IDs.
        label: (H, W) ground-truth class IDs; pixels equal to
            ``ignore_index`` are left out.
        num_classes: number of classes ``K``.
        ignore_index: label value left out.
        name: named in errors (the image path).

    Returns:
        (K, K) int64 tensor on the device of the inputs: entry ``[i, j]``
        counts the non-ignored pixels labelled ``i`` and predicted ``j``.

    Raises:
        ValueError: shapes differ, or a value is not a valid class.
    """
    if pred.shape != label.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and label '
                         f'{tuple(label.shape)} differ in size for {name}')
    keep = label != ignore_index
    pred = pred[keep].long()
    label = label[keep].long()
    for what, values in (('prediction', pred), ('label', label)):
        if values.numel() and (values.min() < 0 or
                               values.max() >= num_classes):
            bad = torch.unique(values[(values < 0) | (values >= num_classes)])
            raise ValueError(f'{what} of {name} has values '
                             f'{bad.tolist()[:10]} outside 0..'
                             f'{num_classes - 1} (ignore_index '
                             f'{ignore_index})')
    counts = torch.bincount(num_classes * label + pred,
                            minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def areas_from_confusion(confusion: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """Per-class areas of a (K, K) confusion matrix (rows: label, columns:
    prediction).

    Returns:
        Four (K,) tensors: intersection (the diagonal), union, prediction
        area (column sums) and label area (row sums).
    """
    area_inter = torch.diagonal(confusion).clone()
    area_pred = confusion.sum(0)
    area_label = confusion.sum(1)
    area_union = area_pred + area_label - area_inter
    return area_inter, area_union, area_pred, area_label


def intersect_and_union(pred: torch.Tensor, label: torch.Tensor,
                        num_classes: int, ignore_index: int,
                        name: str = 'image'
                        ) -> Tuple[torch.Tensor, ...]:
    """Per-class pixel areas of one image (:func:`confusion_matrix`, then
    :func:`areas_from_confusion`).

    Args:
        pred: (H, W) predicted class IDs.
        label: (H, W) ground-truth class IDs, ``ignore_index`` excluded.
        num_classes: number of classes.
        ignore_index: label value left out.
        name: named in errors (the image path).

    Returns:
        Four (num_classes,) int64 CPU tensors: intersection, union,
        prediction area and label area, all counted over non-ignored pixels.

    Raises:
        ValueError: shapes differ, or a value is not a valid class.
    """
    confusion = confusion_matrix(pred, label, num_classes, ignore_index, name)
    return areas_from_confusion(confusion.cpu())


def areas_to_metrics(inter: np.ndarray, union: np.ndarray, pred: np.ndarray,
                     label: np.ndarray, metrics: Sequence[str] = ('mIoU', ),
                     beta: float = 1.0,
                     nan_to_num: Optional[float] = None
                     ) -> Dict[str, np.ndarray]:
    """Per-class metrics (fractions) from summed areas.

    A class with a zero denominator (absent from label and prediction for
    IoU; absent from the label for Acc) gets NaN, or ``nan_to_num``.

    Returns:
        ``aAcc`` (0-d), ``IoU``/``Acc`` for mIoU, ``Dice`` for mDice,
        ``Fscore``/``Precision``/``Recall`` for mFscore; (C,) arrays.
    """
    inter, union, pred, label = (np.asarray(a, np.float64)
                                 for a in (inter, union, pred, label))
    with np.errstate(divide='ignore', invalid='ignore'):
        out = OrderedDict(aAcc=np.array(inter.sum() / label.sum()))
        for metric in metrics:
            if metric == 'mIoU':
                out['IoU'] = inter / union
                out['Acc'] = inter / label
            elif metric == 'mDice':
                out['Dice'] = 2 * inter / (pred + label)
            elif metric == 'mFscore':
                precision, recall = inter / pred, inter / label
                out['Fscore'] = (1 + beta ** 2) * precision * recall / (
                    beta ** 2 * precision + recall)
                out['Precision'], out['Recall'] = precision, recall
            else:
                raise KeyError(f'metric {metric!r} is not supported; use '
                               f'some of {SUPPORTED}')
    if nan_to_num is not None:
        out = OrderedDict((k, np.nan_to_num(v, nan=nan_to_num))
                          for k, v in out.items())
    return out


def format_table(classes: Sequence[str], columns: Dict[str, np.ndarray],
                 title: str = 'per class results') -> str:
    """A plain text table, one row per class, values in percent."""
    names = list(columns)
    width = max([len(c) for c in classes] + [5])
    head = f'{"Class":<{width}} | ' + ' | '.join(f'{n:>8}' for n in names)
    lines = [title, head, '-' * len(head)]
    for i, cls in enumerate(classes):
        cells = []
        for n in names:
            v = float(columns[n][i])
            cells.append(f'{"nan":>8}' if np.isnan(v) else f'{v * 100:8.2f}')
        lines.append(f'{cls:<{width}} | ' + ' | '.join(cells))
    return '\n'.join(lines)


@METRICS.register_module()
class IoUMetric(BaseMetric):
    """mIoU, mAcc and aAcc of predicted train-ID maps, in percent.

    ``process`` keeps four per-class area vectors per image (small, so that
    collecting them across ranks is cheap); ``compute_metrics`` sums them,
    logs the per-class table and returns ``aAcc``, ``mIoU``, ``mAcc`` (and
    ``mDice``, ``mFscore``, ``mPrecision``, ``mRecall`` when asked). Classes
    absent from both labels and predictions are NaN and left out of the
    means; a class predicted but never labelled counts with IoU 0.

    Data samples need ``pred_sem_seg`` (1, H, W) and ``gt_sem_seg`` (1, H, W)
    of the same size (the segmentor returns predictions at ``ori_shape``).

    Args:
        ignore_index: label value left out of the counts.
        iou_metrics: some of 'mIoU', 'mDice', 'mFscore'.
        nan_to_num: replace NaN per-class values by this number (then they
            count in the means).
        beta: beta of the F-score.
        classwise: also return ``IoU.<class>`` (percent) per class.
        collect_device: 'cpu' or 'gpu' for collecting across ranks.
        output_dir: also write each prediction as ``<image stem>.png``
            (train IDs, +1 with ``reduce_zero_label``) into this folder.
        format_only: only write predictions (needs ``output_dir``); no labels
            are read and no metric is returned.
        prefix: prefix of the returned metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 ignore_index: int = 255,
                 iou_metrics: Sequence[str] = ('mIoU', ),
                 nan_to_num: Optional[float] = None,
                 beta: float = 1.0,
                 classwise: bool = False,
                 collect_device: str = 'cpu',
                 output_dir: Optional[str] = None,
                 format_only: bool = False,
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         **kwargs)
        if isinstance(iou_metrics, str):
            iou_metrics = [iou_metrics]
        unknown = set(iou_metrics) - set(SUPPORTED)
        if unknown:
            raise KeyError(f'metrics {sorted(unknown)} are not supported; '
                           f'use some of {SUPPORTED}')
        if format_only and not output_dir:
            raise ValueError('IoUMetric(format_only=True) needs output_dir')
        self.ignore_index = ignore_index
        self.metrics = list(iou_metrics)
        self.nan_to_num = nan_to_num
        self.beta = beta
        self.classwise = classwise
        self.output_dir = output_dir
        self.format_only = format_only
        if output_dir:
            os.makedirs(output_dir, exist_ok=True)

    @property
    def classes(self) -> List[str]:
        meta = self.dataset_meta or {}
        if not meta.get('classes'):
            raise ValueError(
                f'{type(self).__name__} needs dataset_meta["classes"] (set by '
                'the runner from the dataset, or assign metric.dataset_meta)')
        return list(meta['classes'])

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Count the areas of a batch of predictions."""
        num_classes = len(self.classes)
        for sample in data_samples:
            sample = as_dict(sample)
            pred = sample['pred_sem_seg']['data'].squeeze(0)
            name = sample.get('img_path', 'image')
            if self.output_dir:
                self._write(pred, sample)
            if self.format_only:
                continue
            if 'gt_sem_seg' not in sample:
                raise KeyError(f'no gt_sem_seg for {name}: add '
                               'LoadAnnotations to the pipeline or set '
                               'format_only=True')
            label = sample['gt_sem_seg']['data'].squeeze(0).to(pred.device)
            self.results.append(intersect_and_union(
                pred, label, num_classes, self.ignore_index, name))

    def _write(self, pred: torch.Tensor, sample: dict) -> None:
        stem = osp.splitext(osp.basename(sample['img_path']))[0]
        out = pred.cpu().numpy().astype(np.int64)
        if sample.get('reduce_zero_label', False):
            out = out + 1
        cv2.imwrite(osp.join(self.output_dir, f'{stem}.png'),
                    out.astype(np.uint8))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Sum the areas of all images and compute the metrics (percent)."""
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            print_log(f'predictions written to {self.output_dir}',
                      logger=logger)
            return OrderedDict()
        if not results:
            raise ValueError(f'{type(self).__name__}: no image was '
                             'evaluated')
        totals = [sum(r[i].numpy().astype(np.int64) for r in results)
                  for i in range(4)]
        per_class = areas_to_metrics(*totals, metrics=self.metrics,
                                     beta=self.beta,
                                     nan_to_num=self.nan_to_num)
        classes = self.classes
        out = OrderedDict()
        for key, value in per_class.items():
            if key == 'aAcc':
                out['aAcc'] = round(float(value) * 100, 2)
            else:
                out['m' + key] = round(float(np.nanmean(value)) * 100, 2) \
                    if not np.all(np.isnan(value)) else float('nan')
        if self.classwise:
            for name, v in zip(classes, per_class['IoU'] if 'IoU' in
                               per_class else []):
                out[f'IoU.{name}'] = round(float(v) * 100, 2)
        table = format_table(
            classes, {k: v for k, v in per_class.items() if k != 'aAcc'})
        print_log('\n' + table, logger=logger)
        return out
