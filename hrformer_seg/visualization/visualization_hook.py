"""Pictures of validation and test predictions next to their ground truth."""
import os.path as osp
import warnings
from typing import Optional, Sequence

import cv2
import mmcv
import numpy as np
import torch
from mmengine.fileio import get
from mmengine.hooks import Hook

from hrformer_seg.registry import HOOKS
from hrformer_seg.structures import SegDataSample
from .local_visualizer import SegLocalVisualizer, write_rgb


@HOOKS.register_module()
class SegVisualizationHook(Hook):
    """Draws predictions next to the ground truth during validation and test.

    Nothing is drawn unless ``draw=True``. Where the pictures go:

    - through the runner's visualiser backends (``cfg.visualizer``):
      ``LocalVisBackend`` writes
      ``<save_dir>/vis_data/vis_image/<name>_<step>.png``
      (``save_dir`` defaults to ``<work_dir>/<timestamp>``), or
      ``<save_dir>/vis_image/...`` when the backend config sets its own
      ``save_dir``; ``TensorboardVisBackend`` adds image summaries.
      Validation: the first sample of every ``interval``-th batch, named
      ``val_<image stem>``, step = training iteration. Test: every
      ``interval``-th sample, named ``<image stem>``, step = its index.
    - test only, with ``show_dir``: straight to ``<show_dir>/<image stem>.png``
      (also written by non-zero ranks in distributed tests; the backends are
      then skipped).

    The picture shows the image read from ``img_path`` (or, when it has none,
    the network input resized to the prediction) with the ground truth left
    and the prediction right, plus a legend of the classes present.

    Args:
        draw: draw at all.
        interval: draw every ``interval``-th batch (val) / sample (test).
        show: also open a window per picture.
        wait_time: seconds a shown window stays (0: until a key is pressed).
        show_dir: directory for the test pictures (see above).
        with_labels: captions and a class legend under the picture.
        backend_args: mmengine file backend arguments for reading images.
    """

    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 show_dir: Optional[str] = None,
                 with_labels: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.draw = draw
        self.interval = interval
        self.show = show
        self.wait_time = wait_time
        self.show_dir = show_dir
        self.with_labels = with_labels
        self.backend_args = backend_args
        self._test_index = 0
        self._warned = False

    def _visualizer(self, runner) -> Optional[SegLocalVisualizer]:
        visualizer = runner.visualizer
        if isinstance(visualizer, SegLocalVisualizer):
            return visualizer
        if not self._warned:
            warnings.warn(
                'SegVisualizationHook draws nothing: the runner visualizer is '
                f'{type(visualizer).__name__}; set visualizer = '
                "dict(type='SegLocalVisualizer', ...) in the config")
            self._warned = True
        return None

    def _read_image(self, data_sample: SegDataSample,
                    network_input: Optional[torch.Tensor]) -> np.ndarray:
        """The RGB image to draw on, at the prediction's size."""
        img_path = data_sample.metainfo.get('img_path')
        if img_path is not None:
            img_bytes = get(img_path, backend_args=self.backend_args)
            image = mmcv.imfrombytes(img_bytes, channel_order='bgr')
            if image is None:
                raise OSError(f'could not decode the image {img_path}')
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if network_input is None:
            raise ValueError('the data sample has no img_path and the batch '
                             'no inputs: nothing to draw on')
        # pipeline inputs are (3, H, W) BGR as loaded by OpenCV
        image = network_input.detach().cpu().numpy().transpose(1, 2, 0)
        image = np.ascontiguousarray(image[..., ::-1]).astype(np.uint8)
        if 'pred_sem_seg' in data_sample:
            height, width = data_sample.pred_sem_seg.shape
            image = cv2.resize(image, (width, height),
                               interpolation=cv2.INTER_LINEAR)
        return image

    @staticmethod
    def _input(data_batch, index: int) -> Optional[torch.Tensor]:
        if isinstance(data_batch, dict) and 'inputs' in data_batch:
            inputs = data_batch['inputs']
            if index < len(inputs):
                return inputs[index]
        return None

    @staticmethod
    def _stem(data_sample: SegDataSample, fallback: str) -> str:
        img_path = data_sample.metainfo.get('img_path')
        if img_path is None:
            return fallback
        return osp.splitext(osp.basename(img_path))[0]

    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence[SegDataSample]] = None
                       ) -> None:
        """Draw the first sample of every ``interval``-th validation batch."""
        if not self.draw or not outputs:
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        visualizer = self._visualizer(runner)
        if visualizer is None:
            return
        sample = outputs[0]
        image = self._read_image(sample, self._input(data_batch, 0))
        name = 'val_' + self._stem(sample, f'batch{batch_idx}')
        visualizer.add_datasample(
            name,
            image,
            data_sample=sample,
            show=self.show,
            wait_time=self.wait_time,
            step=runner.iter,
            with_labels=self.with_labels)

    def before_test(self, runner) -> None:
        self._test_index = 0

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence[SegDataSample]] = None
                        ) -> None:
        """Draw every ``interval``-th test sample."""
        if not self.draw or not outputs:
            return
        visualizer = self._visualizer(runner)
        if visualizer is None:
            return
        for i, sample in enumerate(outputs):
            index = self._test_index
            self._test_index += 1
            if index % self.interval != 0:
                continue
            image = self._read_image(sample, self._input(data_batch, i))
            name = self._stem(sample, f'sample{index}')
            if self.show_dir is not None:
                drawn = visualizer.compose(
                    image, sample, with_labels=self.with_labels)
                write_rgb(osp.join(self.show_dir, name + '.png'), drawn)
                if self.show:
                    visualizer.show(drawn, win_name=name,
                                    wait_time=self.wait_time)
            else:
                visualizer.add_datasample(
                    name,
                    image,
                    data_sample=sample,
                    show=self.show,
                    wait_time=self.wait_time,
                    step=index,
                    with_labels=self.with_labels)
