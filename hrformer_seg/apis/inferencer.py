"""Segment files, folders and arrays in one call, and write the results.

Example::

    from hrformer_seg.apis import SegInferencer
    inferencer = SegInferencer('work_dirs/my_model_bundle')   # or a config
    result = inferencer('photos/', batch_size=4, out_dir='out')
    result['predictions'][0]     # (H, W) class indices of the first photo
    # out/vis/NAME.png: prediction over the photo; out/pred/NAME.png: labels
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.infer import BaseInferencer
from mmengine.utils import ProgressBar

from hrformer_seg.structures import SegDataSample
from hrformer_seg.visualization import write_rgb
from .inference import (
    ImageType,
    image_pipeline,
    init_model,
    model_visualizer,
    read_rgb,
    resolve_bundle,
    test_step,
)

#: the files a folder input is read for
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class SegInferencer(BaseInferencer):
    """Semantic segmentation of images with a trained model, in the manner
    of MMSegmentation's ``MMSegInferencer`` (an mmengine
    ``BaseInferencer``).

    Args:
        model: config file, :class:`~mmengine.config.Config` or a model
            bundle folder (written by
            ``tools/model_converters/publish_model.py``).
        weights: checkpoint; a bundle brings its own.
        device: 'cpu', 'cuda', 'cuda:1'; None for CUDA when available.
        show_progress: a progress bar over the images (when there are
            several).
        amp: autocast, as :func:`~hrformer_seg.apis.init_model` takes it.
        cfg_options: overrides merged into the config.

    Calling it (``inferencer(inputs, ...)``):

    - ``inputs``: an image file, a folder (its image files, sorted), an
      (H, W, 3) BGR uint8 array, or a list of files or arrays;
    - ``batch_size``: images per forward pass;
    - ``out_dir``: writes ``out_dir/vis/NAME.png`` (the prediction over the
      image, with a legend) and ``out_dir/pred/NAME.png`` (one-channel class
      indices) for an input ``.../NAME.ext`` (arrays: ``00000000``, ...);
    - ``show``: opens a window per image (``wait_time`` seconds);
    - ``opacity``: of the class colours in the pictures;
    - ``return_vis``: also return the pictures;
    - ``return_datasamples``: return the :class:`SegDataSample` objects
      instead of arrays.

    Returns a dict: ``predictions``, one (H, W) array of class indices per
    input at the input's size (a list, also for a single input), and
    ``visualization``, the RGB pictures (drawn with ``return_vis``,
    ``show`` or ``out_dir``; empty otherwise).
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs = {'show', 'wait_time', 'opacity', 'img_out_dir',
                        'return_vis'}
    postprocess_kwargs = {'pred_out_dir'}

    def __init__(self,
                 model: Union[str, os.PathLike, Config],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 show_progress: bool = True,
                 amp: Union[bool, str] = False,
                 cfg_options: Optional[dict] = None) -> None:
        config, weights = resolve_bundle(model, weights)
        if isinstance(config, os.PathLike):
            config = os.fspath(config)
        if isinstance(config, str) and not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config}')
        self._init_args = dict(config=config, amp=amp,
                               cfg_options=cfg_options)
        self._names: List[str] = []
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        # mmengine's bar counts batches: ours (preprocess) counts images
        super().__init__(model=config, weights=weights, device=device,
                         scope='hrformer_seg', show_progress=False)
        self.show_image_progress = show_progress

    @property
    def names(self) -> List[str]:
        """The output names (``NAME`` of ``vis/NAME.png``) of the last
        call's inputs."""
        return list(self._names)

    # ------------------------------------------------------------ set-up --
    def _init_model(self, cfg: Config, weights: Optional[str],
                    device: str = 'cpu') -> nn.Module:
        # init_model: safe loading, SyncBN -> BN on a CPU, classes
        args = self._init_args
        source = args['config'] if isinstance(args['config'], str) else cfg
        return init_model(source, weights, device=device, amp=args['amp'],
                          cfg_options=args['cfg_options'])

    def _init_pipeline(self, cfg: Config):
        return image_pipeline(self.model.cfg)

    def _init_collate(self, cfg: Config):
        return pseudo_collate

    def _init_visualizer(self, cfg: Config):
        return None  # made per call, with that call's opacity

    # ------------------------------------------------------------- a call --
    def __call__(self,
                 inputs: Union[ImageType, Sequence[ImageType]],
                 return_datasamples: bool = False,
                 batch_size: int = 1,
                 show: bool = False,
                 wait_time: float = 0,
                 out_dir: str = '',
                 opacity: float = 0.5,
                 return_vis: bool = False) -> dict:
        img_out_dir = osp.join(out_dir, 'vis') if out_dir else ''
        pred_out_dir = osp.join(out_dir, 'pred') if out_dir else ''
        return super().__call__(
            inputs, return_datasamples=return_datasamples,
            batch_size=batch_size, show=show, wait_time=wait_time,
            opacity=opacity, img_out_dir=img_out_dir,
            pred_out_dir=pred_out_dir, return_vis=return_vis)

    def _inputs_to_list(self, inputs) -> list:
        if isinstance(inputs, (str, os.PathLike)) and osp.isdir(inputs):
            folder = os.fspath(inputs)
            inputs = [osp.join(folder, name)
                      for name in sorted(os.listdir(folder))
                      if name.lower().endswith(IMAGE_SUFFIXES)]
            if not inputs:
                raise FileNotFoundError(
                    f'no image ({", ".join(IMAGE_SUFFIXES)}) in {folder}')
        elif not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        inputs = [os.fspath(i) if isinstance(i, os.PathLike) else i
                  for i in inputs]
        names, seen = [], {}
        for i, item in enumerate(inputs):
            name = (f'{i:08d}' if isinstance(item, np.ndarray)
                    else osp.splitext(osp.basename(item))[0])
            if name in seen:
                raise ValueError(
                    f'{seen[name]} and {item} would write the same result '
                    f'files ({name}.png); rename one')
            seen[name] = item if not isinstance(item, np.ndarray) else name
            names.append(name)
        self._names = names
        return list(inputs)

    def preprocess(self, inputs: list, batch_size: int = 1, **kwargs):
        bar = ProgressBar(len(inputs)) if self.show_image_progress and \
            len(inputs) > 1 else None
        for batch in super().preprocess(inputs, batch_size=batch_size):
            yield batch
            if bar is not None:
                for _ in range(len(batch['inputs'])):
                    bar.update()

    def forward(self, inputs: dict, **kwargs) -> List[SegDataSample]:
        return test_step(self.model, inputs)

    def visualize(self,
                  inputs: list,
                  preds: List[SegDataSample],
                  show: bool = False,
                  wait_time: float = 0,
                  opacity: float = 0.5,
                  img_out_dir: str = '',
                  return_vis: bool = False) -> List[np.ndarray]:
        if not (show or img_out_dir or return_vis):
            return []
        visualizer = model_visualizer(self.model, opacity, 'seg_inferencer')
        pictures = []
        for name, image, pred in zip(self._names, inputs, preds):
            drawn = visualizer.compose(read_rgb(image), pred, draw_gt=False)
            if show:
                visualizer.show(drawn, win_name=name, wait_time=wait_time)
            if img_out_dir:
                write_rgb(osp.join(img_out_dir, name + '.png'), drawn)
            if return_vis:
                pictures.append(drawn)
        return pictures

    def postprocess(self,
                    preds: List[SegDataSample],
                    visualization: List[np.ndarray],
                    return_datasample: bool = False,
                    pred_out_dir: str = '') -> Dict[str, list]:
        labels = []
        for name, pred in zip(self._names, preds):
            label = pred.pred_sem_seg.data[0].cpu().numpy()
            label = label.astype(np.uint8 if label.max(initial=0) < 256
                                 else np.uint16)
            labels.append(label)
            if pred_out_dir:
                write_label_png(osp.join(pred_out_dir, name + '.png'), label)
        return dict(predictions=preds if return_datasample else labels,
                    visualization=visualization)


def write_label_png(path: str, label: np.ndarray) -> None:
    """A one-channel PNG of class indices (8 or 16 bit)."""
    from PIL import Image
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    Image.fromarray(label).save(path)
