"""Pictures of segmentation results: ground truth next to prediction."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.dist import master_only
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer

from hrformer_seg.registry import VISUALIZERS
from hrformer_seg.structures import SegDataSample
from .palette import Color, colorize, resolve_meta

IGNORE_INDEX = 255
LabelMap = Union[PixelData, torch.Tensor, np.ndarray]


def label_map_to_numpy(sem_seg: LabelMap) -> np.ndarray:
    """Turn ``PixelData`` / tensor / array labels into an (H, W) int64 array.

    Args:
        sem_seg: ``PixelData`` whose ``data`` is (1, H, W), or a (1, H, W) or
            (H, W) tensor / array.

    Returns:
        (H, W) int64 array.
    """
    if isinstance(sem_seg, PixelData):
        sem_seg = sem_seg.data
    if isinstance(sem_seg, torch.Tensor):
        sem_seg = sem_seg.detach().cpu().numpy()
    labels = np.asarray(sem_seg)
    if labels.ndim == 3 and labels.shape[0] == 1:
        labels = labels[0]
    if labels.ndim != 2:
        raise ValueError(
            f'a label map must be (H, W) or (1, H, W), got {labels.shape}')
    return labels.astype(np.int64)


def _num_labels(labels: np.ndarray) -> int:
    """Largest label below the ignore index, plus one (0 if none)."""
    valid = labels[(labels >= 0) & (labels < IGNORE_INDEX)]
    return int(valid.max()) + 1 if valid.size else 0


def _font_scale(height: int, width: int) -> Tuple[float, int]:
    """Font scale and stroke thickness readable at the panel's size."""
    scale = float(np.clip(min(height, width) / 700.0, 0.35, 2.0))
    return scale, max(1, int(round(scale * 1.5)))


@VISUALIZERS.register_module()
class SegLocalVisualizer(Visualizer):
    """Draws label maps over images, ground truth next to prediction.

    Drawing is done with OpenCV on numpy arrays (fast for 2048x1024 images);
    the result goes to ``out_file`` or to the visualisation backends
    (``LocalVisBackend`` writes
    ``<save_dir>/vis_data/vis_image/<name>_<step>.png``,
    ``TensorboardVisBackend`` adds an image summary).

    Args:
        name: instance name (mmengine keeps one visualiser per name).
        image: optional image to start with, (H, W, 3) RGB uint8.
        vis_backends: backend configs, e.g. ``[dict(type='LocalVisBackend')]``.
        save_dir: root directory of the backends' files.
        classes: class names; default: the dataset's ``metainfo`` once the
            runner sets ``dataset_meta``, else the 19 Cityscapes classes.
        palette: one RGB colour per class.
        alpha: opacity of the label colours over the image, in [0, 1].
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence[Color]] = None,
                 alpha: float = 0.5,
                 **kwargs) -> None:
        super().__init__(
            name=name,
            image=image,
            vis_backends=vis_backends,
            save_dir=save_dir,
            **kwargs)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        self.alpha = alpha
        if classes is not None:
            self.set_dataset_meta(classes, palette)

    def set_dataset_meta(self,
                         classes: Sequence[str],
                         palette: Optional[Sequence[Color]] = None) -> None:
        """Set the class names and colours (a missing palette is generated).

        Args:
            classes: class names, index = label value.
            palette: RGB colour per class.
        """
        classes, palette = resolve_meta(
            dict(classes=list(classes), palette=palette))
        self.dataset_meta = dict(classes=classes, palette=palette)

    def draw_sem_seg(self,
                     image: np.ndarray,
                     sem_seg: LabelMap,
                     palette: Optional[Sequence[Color]] = None,
                     alpha: Optional[float] = None) -> np.ndarray:
        """Blend the colours of a label map over an image.

        Pixels whose label has no colour (the ignore index 255) keep the
        image's colour. A label map of another size than the image is resized
        to it (nearest neighbour).

        Args:
            image: (H, W, 3) RGB uint8.
            sem_seg: labels, (H', W') or (1, H', W').
            palette: RGB colour per label; default: the current metainfo's.
            alpha: label opacity; default: the visualiser's ``alpha``.

        Returns:
            (H, W, 3) RGB uint8, a new array.
        """
        labels = label_map_to_numpy(sem_seg)
        if palette is None:
            _, palette = resolve_meta(self._dataset_meta, _num_labels(labels))
        alpha = self.alpha if alpha is None else alpha
        image = np.ascontiguousarray(image, dtype=np.uint8)
        height, width = image.shape[:2]
        if labels.shape != (height, width):
            labels = cv2.resize(
                labels.astype(np.int32), (width, height),
                interpolation=cv2.INTER_NEAREST).astype(np.int64)
        color = colorize(labels, palette)
        blended = cv2.addWeighted(image, 1.0 - alpha, color, alpha, 0.0)
        known = (labels >= 0) & (labels < len(palette))
        return np.where(known[..., None], blended, image)

    @staticmethod
    def _draw_title(image: np.ndarray, text: str) -> np.ndarray:
        """Write a caption in the image's top-left corner, white on black.

        Images too small for a readable caption (the box would cover more
        than a fifth of their height or half their width) are left as is.
        """
        scale, thickness = _font_scale(*image.shape[:2])
        (text_w, text_h), baseline = cv2.getTextSize(
            text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        pad = max(2, text_h // 3)
        if (text_h + baseline + 2 * pad > image.shape[0] / 5
                or text_w + 2 * pad > image.shape[1] / 2):
            return image
        image = np.ascontiguousarray(image)
        cv2.rectangle(image, (0, 0),
                      (text_w + 2 * pad, text_h + baseline + 2 * pad),
                      (0, 0, 0), thickness=-1)
        cv2.putText(image, text, (pad, pad + text_h), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), thickness, cv2.LINE_AA)
        return image

    @staticmethod
    def draw_legend(width: int, labels: Sequence[int], classes: Sequence[str],
                    palette: Sequence[Color], panel_height: int) -> np.ndarray:
        """A white band listing classes with their colour swatch.

        Entries are laid out left to right and wrap onto new rows so the band
        is exactly ``width`` pixels wide.

        Args:
            width: band width in pixels.
            labels: the label values to list (in this order).
            classes: class names.
            palette: RGB colours.
            panel_height: height of the drawn panels (sets the font size).

        Returns:
            (h, width, 3) RGB uint8; h is 0 when ``labels`` is empty.
        """
        if len(labels) == 0:
            return np.zeros((0, width, 3), dtype=np.uint8)
        scale, thickness = _font_scale(panel_height, width)
        font = cv2.FONT_HERSHEY_SIMPLEX
        (_, text_h), baseline = cv2.getTextSize('Ag', font, scale, thickness)
        pad = max(3, text_h // 2)
        row_h = text_h + baseline + pad
        swatch = text_h + baseline
        entries = []  # (x, row, label)
        x, row = pad, 0
        for label in labels:
            text_w = cv2.getTextSize(classes[label], font, scale,
                                     thickness)[0][0]
            entry_w = swatch + pad // 2 + text_w + 2 * pad
            if x + entry_w > width and x > pad:
                x, row = pad, row + 1
            entries.append((x, row, label))
            x += entry_w
        band = np.full(((row + 1) * row_h + pad, width, 3), 255, np.uint8)
        for x, row, label in entries:
            top = pad + row * row_h
            color = tuple(int(c) for c in palette[label])
            cv2.rectangle(band, (x, top), (x + swatch, top + swatch), color,
                          thickness=-1)
            cv2.rectangle(band, (x, top), (x + swatch, top + swatch),
                          (0, 0, 0), thickness=1)
            cv2.putText(band, classes[label],
                        (x + swatch + pad // 2, top + text_h), font, scale,
                        (0, 0, 0), thickness, cv2.LINE_AA)
        return band

    def compose(self,
                image: np.ndarray,
                data_sample: Optional[SegDataSample] = None,
                draw_gt: bool = True,
                draw_pred: bool = True,
                with_labels: bool = True,
                alpha: Optional[float] = None) -> np.ndarray:
        """Build the picture :meth:`add_datasample` saves, without saving it.

        Returns:
            RGB uint8 of height H (+ the legend band when ``with_labels``)
            and width W times the number of panels (ground truth, prediction;
            the plain image when the sample has neither).
        """
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f'image must be (H, W, 3) RGB, got shape {image.shape}')
        image = np.ascontiguousarray(image.astype(np.uint8))
        maps = []
        if data_sample is not None:
            if draw_gt and 'gt_sem_seg' in data_sample:
                maps.append(('ground truth',
                             label_map_to_numpy(data_sample.gt_sem_seg)))
            if draw_pred and 'pred_sem_seg' in data_sample:
                maps.append(('prediction',
                             label_map_to_numpy(data_sample.pred_sem_seg)))
        if not maps:
            return image.copy()
        present = np.unique(np.concatenate([m.ravel() for _, m in maps]))
        valid = present[(present >= 0) & (present < IGNORE_INDEX)]
        classes, palette = resolve_meta(self._dataset_meta,
                                        _num_labels(valid))
        panels = []
        for title, labels in maps:
            panel = self.draw_sem_seg(image, labels, palette, alpha)
            if with_labels:
                panel = self._draw_title(panel, title)
            panels.append(panel)
        drawn = np.concatenate(panels, axis=1)
        if with_labels:
            legend = self.draw_legend(drawn.shape[1], [int(v) for v in valid],
                                      classes, palette, image.shape[0])
            drawn = np.concatenate([drawn, legend], axis=0)
        return drawn

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: bool = True,
                       alpha: Optional[float] = None) -> None:
        """Draw a sample's ground truth and prediction and save or show it.

        Args:
            name: image identifier (backends name the file ``<name>_<step>``).
            image: (H, W, 3) RGB uint8, the image the maps belong to.
            data_sample: a :class:`SegDataSample` with ``gt_sem_seg`` and/or
                ``pred_sem_seg`` (either may be missing).
            draw_gt: draw the ground truth panel (left).
            draw_pred: draw the prediction panel (right).
            show: open a window with the picture.
            wait_time: seconds the window stays (0: until a key is pressed).
            out_file: write the picture to this file instead of the backends.
            step: global step passed to the backends.
            with_labels: captions and a legend of the classes present.
            alpha: label opacity; default: the visualiser's ``alpha``.
        """
        drawn = self.compose(image, data_sample, draw_gt, draw_pred,
                             with_labels, alpha)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            write_rgb(out_file, drawn)
        else:
            self.add_image(name, drawn, step)


def write_rgb(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 image with OpenCV, creating the directory.

    Raises:
        OSError: naming ``path`` when OpenCV cannot write it.
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    try:
        written = cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    except cv2.error as exc:
        raise OSError(f'could not write the image {path}: {exc}') from exc
    if not written:
        raise OSError(f'could not write the image {path} (unknown extension '
                      'or directory not writable)')
