"""Confusion matrix of test predictions against the ground truth.

    python tools/analysis_tools/confusion_matrix.py CONFIG PREDICTION \\
        --show-dir DIR [--title TITLE] [--color-theme Blues] \\
        [--cfg-options ...]

PREDICTION is either

- a directory of predicted train-ID maps ``<image stem>.png``, as written by
  ``python tools/test.py CONFIG CKPT --out DIR`` (IoUMetric ``output_dir``);
  the ground truth comes from the config's test dataset
  (``test_dataloader.dataset``), matched by image stem; or
- a ``.pkl`` file of mmengine's ``DumpResults`` metric
  (``test_evaluator = [..., dict(type='DumpResults',
  out_file_path='r.pkl')]``),
  a list of data samples as dicts with ``pred_sem_seg`` and ``gt_sem_seg``
  (or ``seg_map_path``). Pickles can run code when loaded: only open files
  you made.

Writes ``DIR/confusion_matrix.png`` (rows: ground truth, normalised to 100%
per row; columns: prediction) and ``DIR/confusion_matrix.npy`` (raw pixel
counts, int64, (K, K)), and prints the IoU of every class computed from it.
Pixels labelled ``ignore_index`` (255) are left out. The pixels are counted
and the IoU computed by the functions ``IoUMetric`` uses
(:mod:`hrformer_seg.evaluation.metrics.iou_metric`).
"""
import argparse
import os
import os.path as osp
import pickle
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import matplotlib
import numpy as np
import torch
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from hrformer_seg.evaluation.metrics import (  # noqa: E402
    areas_from_confusion,
    areas_to_metrics,
    confusion_matrix,
)
from hrformer_seg.registry import DATASETS, TRANSFORMS  # noqa: E402
from hrformer_seg.utils.tool_setup import (  # noqa: E402
    add_cfg_options,
    load_config,
)

Pair = Tuple[np.ndarray, np.ndarray, str]  # prediction, label, name


def accumulate(confusion: np.ndarray, pred: np.ndarray, label: np.ndarray,
               ignore_index: int = 255, name: str = 'image') -> np.ndarray:
    """Add one image's pixels to a (K, K) matrix (rows: label, cols: pred).

    Counted by :func:`hrformer_seg.evaluation.metrics.confusion_matrix`,
    the counting of ``IoUMetric``: labels equal to ``ignore_index`` are
    skipped; other labels or predictions outside [0, K) raise a
    ``ValueError`` naming ``name``.
    """
    counts = confusion_matrix(torch.from_numpy(np.asarray(pred, np.int64)),
                              torch.from_numpy(np.asarray(label, np.int64)),
                              confusion.shape[0], ignore_index, name)
    confusion += counts.numpy()
    return confusion


def iou_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class IoU = TP / (TP + FP + FN), NaN for classes never seen
    (``IoUMetric``'s areas and formula)."""
    areas = areas_from_confusion(
        torch.from_numpy(np.asarray(confusion, np.int64)))
    return areas_to_metrics(*areas)['IoU']


def plot_confusion_matrix(confusion: np.ndarray, classes: Sequence[str],
                          out_file: str, title: str = 'Normalized confusion '
                          'matrix', color_theme: str = 'Blues') -> None:
    """Row-normalised matrix (percent of each ground-truth class)."""
    totals = confusion.sum(axis=1, keepdims=True)
    with np.errstate(divide='ignore', invalid='ignore'):
        percent = np.where(totals > 0, confusion / totals * 100, 0.0)
    num_classes = len(classes)
    size = max(5.0, 0.5 * num_classes + 3)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(percent, cmap=plt.get_cmap(color_theme), vmin=0,
                      vmax=100)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(num_classes))
    ax.set_yticks(range(num_classes))
    ax.set_xticklabels(classes, rotation=45, ha='right')
    ax.set_yticklabels(classes)
    ax.set_xlabel('prediction')
    ax.set_ylabel('ground truth')
    ax.set_title(title)
    if num_classes <= 40:
        for i in range(num_classes):
            for j in range(num_classes):
                if totals[i, 0] == 0:
                    continue
                ax.text(j, i, f'{percent[i, j]:.1f}', ha='center',
                        va='center', fontsize=7,
                        color='white' if percent[i, j] > 50 else 'black')
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)


def _label_loader():
    """The dataset code's LoadAnnotations (label_map, reduce_zero_label)."""
    return TRANSFORMS.build(dict(type='LoadAnnotations'))


def _load_label(loader, info: dict) -> np.ndarray:
    path = info.get('seg_map_path')
    if path is None:
        raise KeyError(f'no ground truth (seg_map_path) for '
                       f'{info.get("img_path")}')
    if not osp.isfile(path):
        raise FileNotFoundError(f'label map not found: {path}')
    results = loader(dict(
        seg_map_path=path,
        reduce_zero_label=info.get('reduce_zero_label', False),
        label_map=info.get('label_map'),
        seg_fields=[]))
    return results['gt_seg_map']


def _read_prediction(path: str) -> np.ndarray:
    pred = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if pred is None:
        raise OSError(f'could not read the prediction {path}')
    if pred.ndim != 2:
        raise ValueError(f'{path}: a prediction must be a one-channel '
                         'train-ID map')
    return pred


def pairs_from_dir(pred_dir: str, dataset) -> Iterator[Pair]:
    """(prediction, label) of every dataset image with ``<stem>.png``."""
    loader = _label_loader()
    missing = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        pred_path = osp.join(pred_dir, stem + '.png')
        if not osp.isfile(pred_path):
            missing.append(pred_path)
            continue
        pred = _read_prediction(pred_path)
        if info.get('reduce_zero_label', False):
            # IoUMetric writes class k as k + 1 for such datasets
            pred = pred.astype(np.int64) - 1
        yield pred, _load_label(loader, info), stem
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} of {len(dataset)} predictions are missing in '
            f'{pred_dir}, e.g. {missing[0]}')


def _tensor_data(field) -> Optional[np.ndarray]:
    if field is None:
        return None
    data = field['data'] if isinstance(field, dict) else field.data
    data = data.cpu().numpy() if hasattr(data, 'cpu') else np.asarray(data)
    return data[0] if data.ndim == 3 else data


def pairs_from_pickle(path: str) -> Tuple[int, Iterator[Pair]]:
    """(prediction, label) of every sample in a DumpResults pickle."""
    with open(path, 'rb') as f:
        samples = pickle.load(f)
    if not isinstance(samples, (list, tuple)):
        raise ValueError(f'{path}: expected a list of data samples '
                         f'(DumpResults), got {type(samples).__name__}')

    def generate() -> Iterator[Pair]:
        loader = None
        for i, sample in enumerate(samples):
            if not isinstance(sample, dict):
                sample = sample.to_dict()
            name = sample.get('img_path') or f'sample {i}'
            if 'pred_sem_seg' not in sample:
                raise KeyError(f'{path}: {name} has no pred_sem_seg')
            pred = _tensor_data(sample['pred_sem_seg'])
            label = _tensor_data(sample.get('gt_sem_seg'))
            if label is None:
                loader = loader or _label_loader()
                label = _load_label(loader, sample)
            yield pred, label, name

    return len(samples), generate()


def compute(config: str, prediction: str,
            cfg_options: Optional[dict] = None) -> Tuple[np.ndarray,
                                                         List[str]]:
    """The (K, K) pixel-count confusion matrix and the class names."""
    cfg = load_config(config, cfg_options)
    if not osp.exists(prediction):
        raise FileNotFoundError(f'prediction file or directory not found: '
                                f'{prediction}')
    init_default_scope(cfg.get('default_scope', 'hrformer_seg'))
    dataset_cfg = dict(cfg.test_dataloader.dataset, pipeline=[])
    from_dir = osp.isdir(prediction)
    if not from_dir:
        dataset_cfg['lazy_init'] = True  # only the class names are needed
    dataset = DATASETS.build(dataset_cfg)
    classes = list(dataset.metainfo['classes'])
    ignore_index = getattr(dataset, 'ignore_index', 255)
    if from_dir:
        total, pairs = len(dataset), pairs_from_dir(prediction, dataset)
    else:
        total, pairs = pairs_from_pickle(prediction)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    progress = ProgressBar(total)
    for pred, label, name in pairs:
        accumulate(confusion, pred, label, ignore_index, name)
        progress.update()
    return confusion, classes


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Confusion matrix of segmentation predictions')
    parser.add_argument('config', help='test config file')
    parser.add_argument(
        'prediction',
        help='directory of <image stem>.png predictions (tools/test.py --out) '
        'or a DumpResults .pkl file')
    parser.add_argument('--show-dir', required=True,
                        help='directory for confusion_matrix.png/.npy')
    parser.add_argument('--title', default='Normalized confusion matrix')
    parser.add_argument('--color-theme', default='Blues',
                        help='a matplotlib colormap name')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv=None) -> np.ndarray:
    args = parse_args(argv)
    confusion, classes = compute(args.config, args.prediction,
                                 args.cfg_options)
    os.makedirs(args.show_dir, exist_ok=True)
    np.save(osp.join(args.show_dir, 'confusion_matrix.npy'), confusion)
    out_file = osp.join(args.show_dir, 'confusion_matrix.png')
    plot_confusion_matrix(confusion, classes, out_file, args.title,
                          args.color_theme)
    iou = iou_from_confusion(confusion)
    print()
    for name, value in zip(classes, iou):
        print(f'{name:>16s}: IoU {value * 100:6.2f}')
    print(f'{"mIoU":>16s}: {np.nanmean(iou) * 100:6.2f} '
          f'(classes with pixels: {int(np.sum(~np.isnan(iou)))})')
    print(f'confusion matrix written to {out_file}')
    return confusion


if __name__ == '__main__':
    main()
