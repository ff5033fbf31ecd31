"""Cityscapes' official pixel-level evaluation and test-server submission."""
import copy
import os
import os.path as osp
import shutil
import tempfile
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.dist import get_world_size
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from hrformer_seg.registry import METRICS
from .iou_metric import as_dict, format_table


def train_id_to_label_id() -> np.ndarray:
    """A 256-entry lookup table from Cityscapes train IDs to label IDs.

    Train IDs 0-18 map to the IDs of the test server (7 road ... 33
    bicycle); anything else maps to 0 (unlabeled).
    """
    from cityscapesscripts.helpers.labels import trainId2label
    lut = np.zeros(256, np.uint8)
    for train_id, label in trainId2label.items():
        if 0 <= train_id < 255:
            lut[train_id] = label.id
    return lut


@METRICS.register_module()
class CityscapesMetric(BaseMetric):
    """Writes label-ID PNGs and runs cityscapesscripts' evaluation.

    ``process`` turns each train-ID prediction into Cityscapes label IDs and
    writes ``<city>_<seq>_<frame>_leftImg8bit.png`` (the image's stem) into
    ``output_dir``: the format of the test server. Unless ``format_only``,
    ``compute_metrics`` evaluates them with
    ``cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling`` against
    the ``*_gtFine_labelIds.png`` files next to each
    ``*_gtFine_labelTrainIds.png`` (the real dataset and the generated one
    ship them) and returns ``mIoU`` (mean class IoU) and ``mIoU_category``
    in percent. Its per-class IoU equals :class:`IoUMetric`'s on the same
    predictions. The instance-level scores (iIoU) are not computed.

    Args:
        output_dir: folder of the PNGs. None uses a temporary folder
            (single process only), removed after evaluation unless
            ``keep_results``.
        ignore_index: train ID of ignored pixels.
        format_only: only write the PNGs (test split without labels).
        keep_results: keep the temporary folder (its path is logged).
        zip_results: also pack the PNGs into ``<output_dir>.zip`` for the
            test server.
        classwise: also return ``IoU.<class>`` per class (percent).
        verbose: let cityscapesscripts print its own report.
        json_file: also write cityscapesscripts' JSON result file here.
        collect_device: 'cpu' or 'gpu'.
        prefix: prefix of the returned metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 output_dir: Optional[str] = None,
                 ignore_index: int = 255,
                 format_only: bool = False,
                 keep_results: bool = False,
                 zip_results: bool = False,
                 classwise: bool = False,
                 verbose: bool = False,
                 json_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         **kwargs)
        self.output_dir = output_dir
        self.ignore_index = ignore_index
        self.format_only = format_only
        self.keep_results = keep_results
        self.zip_results = zip_results
        self.classwise = classwise
        self.verbose = verbose
        self.json_file = json_file
        self._tmp_dir: Optional[str] = None
        self._lut = train_id_to_label_id()

    def _out_dir(self) -> str:
        if self.output_dir:
            os.makedirs(self.output_dir, exist_ok=True)
            return self.output_dir
        if get_world_size() > 1:
            raise ValueError('CityscapesMetric needs an output_dir shared by '
                             'all processes in distributed evaluation')
        if self._tmp_dir is None:
            self._tmp_dir = tempfile.mkdtemp(prefix='cityscapes_results_')
        return self._tmp_dir

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Write the predictions as label-ID PNGs."""
        out_dir = self._out_dir()
        for sample in data_samples:
            sample = as_dict(sample)
            pred = sample['pred_sem_seg']['data'].squeeze(0).cpu().numpy()
            if pred.min() < 0 or pred.max() > 255:
                raise ValueError(f'prediction for {sample["img_path"]} has '
                                 'values outside 0..255')
            stem = osp.splitext(osp.basename(sample['img_path']))[0]
            png = osp.abspath(osp.join(out_dir, f'{stem}.png'))
            cv2.imwrite(png, self._lut[pred.astype(np.uint8)])
            gt = None
            if not self.format_only:
                seg = sample.get('seg_map_path')
                if not seg:
                    raise KeyError(f'no seg_map_path for {sample["img_path"]}'
                                   '; set format_only=True for a split '
                                   'without labels')
                gt = seg.replace('_labelTrainIds.png', '_labelIds.png')
            self.results.append((png, gt))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger: MMLogger = MMLogger.get_current_instance()
        out_dir = osp.dirname(results[0][0]) if results else self._out_dir()
        try:
            if self.zip_results:
                archive = shutil.make_archive(out_dir.rstrip('/'), 'zip',
                                              out_dir)
                print_log(f'test-server archive written to {archive}',
                          logger=logger)
            if self.format_only:
                print_log(f'label-ID predictions written to {out_dir}',
                          logger=logger)
                return OrderedDict()
            return self._evaluate(results, logger)
        finally:
            if self._tmp_dir and not self.keep_results:
                shutil.rmtree(self._tmp_dir, ignore_errors=True)
                self._tmp_dir = None
            elif self._tmp_dir:
                print_log(f'predictions kept in {self._tmp_dir}',
                          logger=logger)

    def _evaluate(self, results: List[tuple], logger) -> Dict[str, float]:
        from cityscapesscripts.evaluation import (
            evalPixelLevelSemanticLabeling as cs_eval,
        )
        from cityscapesscripts.helpers.labels import trainId2label

        preds = [p for p, _ in results]
        gts = [g for _, g in results]
        missing = [g for g in gts if not osp.isfile(g)]
        if missing:
            raise FileNotFoundError(
                f'CityscapesMetric needs the *_gtFine_labelIds.png ground '
                f'truth of cityscapesscripts; {len(missing)} are missing, '
                f'e.g. {missing[0]}. Use IoUMetric for datasets without them.')
        args = copy.copy(cs_eval.args)
        args.evalInstLevelScore = False  # needs instance maps (and np.in1d)
        args.evalPixelAccuracy = False
        args.JSONOutput = self.json_file is not None
        if self.json_file:
            args.exportFile = self.json_file
        args.quiet = not self.verbose
        args.colorized = False
        args.bold = args.nocol = ''
        args.predictionPath = osp.dirname(preds[0])
        args.predictionWalk = None
        try:
            res = cs_eval.evaluateImgLists(preds, gts, args)
        except SystemExit as e:  # cityscapesscripts' printError
            raise RuntimeError('cityscapesscripts evaluation failed (see the '
                               'ERROR printed above)') from e

        classes = list((self.dataset_meta or {}).get('classes') or [
            trainId2label[i].name for i in range(19)])
        iou = np.array([res['classScores'].get(c, float('nan'))
                        for c in classes], np.float64)
        metrics = OrderedDict(
            mIoU=round(float(res['averageScoreClasses']) * 100, 2),
            mIoU_category=round(float(res['averageScoreCategories']) * 100,
                                2))
        if self.classwise:
            for c, v in zip(classes, iou):
                metrics[f'IoU.{c}'] = round(float(v) * 100, 2)
        print_log('\n' + format_table(classes, dict(IoU=iou),
                                      'Cityscapes official evaluation'),
                  logger=logger)
        return metrics
