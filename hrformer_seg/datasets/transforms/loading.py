"""Loading images and label maps, with errors that name the file."""
import io
import warnings
from typing import Optional, Set

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from PIL import Image

from hrformer_seg.registry import TRANSFORMS
from ..label_checks import (
    binary_0_255_message,
    channels_message,
    invalid_values,
    invalid_values_message,
    is_binary_0_255,
    size_mismatch_message,
    value_counts,
)

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


class CorruptFileError(OSError):
    """An image or label map that cannot be read completely."""


class LabelMapWarning(UserWarning):
    """A label map that loads but is probably not what was meant."""


def check_complete(content: bytes, filename: str) -> None:
    """Raise if encoded image bytes are visibly incomplete.

    Decoders may return a partly decoded image for a truncated file (libpng
    and libjpeg only print a warning), so the end of the stream is checked
    here: a PNG must end with its ``IEND`` chunk, a JPEG must contain an
    end-of-image marker. Other formats are left to the decoder.

    Args:
        content: the file's bytes.
        filename: named in the error.

    Raises:
        CorruptFileError: the file is empty or truncated.
    """
    if len(content) == 0:
        raise CorruptFileError(f'{filename} is empty (0 bytes)')
    if content.startswith(PNG_SIGNATURE):
        if b'IEND' not in content[-64:]:
            raise CorruptFileError(
                f'{filename} is a truncated PNG (no IEND chunk at the end, '
                f'{len(content)} bytes); re-extract or re-convert it')
    elif content.startswith(b'\xff\xd8'):
        if content.rfind(b'\xff\xd9') < 2:
            raise CorruptFileError(
                f'{filename} is a truncated JPEG (no end-of-image marker, '
                f'{len(content)} bytes)')


def _read_bytes(filename: str, backend_args: Optional[dict],
                what: str) -> bytes:
    try:
        return fileio.get(filename, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'{what} {filename} does not exist') from e


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that names the file when it fails.

    A missing, empty, truncated or undecodable file raises an error naming
    it (mmcv raises a bare assertion, and a truncated PNG or JPEG may decode
    partially with only a decoder warning). Images are BGR uint8 (H, W, 3)
    with the default ``color_type='color'``.

    Required keys: ``img_path``. Added keys: ``img``, ``img_shape``,
    ``ori_shape``.

    Args:
        to_float32: return a float32 image.
        color_type: ``mmcv.imfrombytes`` flag ('color', 'grayscale',
            'unchanged').
        imdecode_backend: 'cv2' or 'pillow'.
        ignore_empty: return None for unreadable files instead of raising
            (the dataset then samples another image in training).
        check_integrity: check PNG/JPEG files for truncation.
        backend_args: mmengine file backend arguments.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 ignore_empty: bool = False,
                 check_integrity: bool = True,
                 *,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(
            to_float32=to_float32,
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            ignore_empty=ignore_empty,
            backend_args=backend_args)
        self.check_integrity = check_integrity

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            content = _read_bytes(filename, self.backend_args, 'image')
            if self.check_integrity:
                check_complete(content, filename)
            try:
                img = mmcv.imfrombytes(
                    content, flag=self.color_type,
                    backend=self.imdecode_backend)
            except Exception as e:  # decoder errors rarely name the file
                raise CorruptFileError(
                    f'cannot decode image {filename}: {e}') from e
            if img is None or img.size == 0:
                raise CorruptFileError(
                    f'cannot decode image {filename} (corrupt or not an '
                    'image)')
        except (OSError, ValueError):
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(to_float32={self.to_float32}, '
                f"color_type='{self.color_type}', "
                f"imdecode_backend='{self.imdecode_backend}', "
                f'ignore_empty={self.ignore_empty}, '
                f'check_integrity={self.check_integrity})')


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Load a semantic label map (e.g. ``*_gtFine_labelTrainIds.png``).

    The file is read unchanged (one channel, no colour conversion) and
    checked: a colour (several-channel) map and a map of another size than
    its image (``ori_shape``, when an image was loaded before) raise an
    error naming both files. A map holding only the values 0 and 255 (a
    black-and-white mask, whose foreground would be ignored) gives a
    :class:`LabelMapWarning` naming it, once per file and process. Then, in
    this order: ``label_map`` from the dataset is applied (class subset),
    ``reduce_zero_label`` shifts the labels, and the values are checked to
    be in ``{0, ..., num_classes - 1, ignore_index}``.

    Required keys: ``seg_map_path``, optional ``label_map``,
    ``reduce_zero_label``, ``seg_fields``, ``ori_shape``, ``img_path``.
    Added keys: ``gt_seg_map`` (H, W) uint8 for 8-bit files;
    ``seg_fields`` gets ``'gt_seg_map'``.

    Args:
        num_classes: number of classes; values outside the valid set raise
            an error naming the file and the values. None skips the check.
        ignore_index: the ignored label value.
        reduce_zero_label: overrides the dataset's flag if given (they must
            agree when both are set).
        imdecode_backend: 'pillow' (default; raises on truncated data) or
            'cv2'.
        backend_args: mmengine file backend arguments.
    """

    #: files already warned about in this process
    _warned: Set[str] = set()

    def __init__(self,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
                 reduce_zero_label: Optional[bool] = None,
                 imdecode_backend: str = 'pillow',
                 backend_args: Optional[dict] = None) -> None:
        if num_classes is not None and num_classes <= 0:
            raise ValueError(f'num_classes must be positive, got '
                             f'{num_classes}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def read_label(self, filename: str) -> np.ndarray:
        """The label map in ``filename`` as it is stored, (H, W).

        Raises:
            FileNotFoundError: the file does not exist.
            CorruptFileError: it is empty, truncated or not an image.
            ValueError: it has several channels (a colour image).
        """
        content = _read_bytes(filename, self.backend_args, 'label map')
        check_complete(content, filename)
        try:
            if self.imdecode_backend == 'pillow':
                with Image.open(io.BytesIO(content)) as img:
                    img.load()
                    label = np.array(img)
            else:
                label = mmcv.imfrombytes(
                    content, flag='unchanged', backend=self.imdecode_backend)
        except Exception as e:
            raise CorruptFileError(
                f'cannot decode label map {filename}: {e}') from e
        if label is None or label.size == 0:
            raise CorruptFileError(f'cannot decode label map {filename}')
        if label.ndim == 3 and label.shape[2] == 1:
            label = label[..., 0]
        if label.ndim != 2:
            raise ValueError(channels_message(filename, label.shape))
        return label

    def transform(self, results: dict) -> dict:
        filename = results.get('seg_map_path')
        if filename is None:
            raise ValueError(
                f'LoadAnnotations: no label map for {results.get("img_path")}'
                ' (seg_map_path is None); drop LoadAnnotations from the '
                'pipeline of a split without labels')
        label = raw = self.read_label(filename)
        image_shape = results.get('ori_shape')
        if image_shape is not None and \
                tuple(label.shape) != tuple(image_shape[:2]):
            raise ValueError(size_mismatch_message(
                filename, label.shape, results.get('img_path'), image_shape))
        present, _ = value_counts(label)
        if is_binary_0_255(present, self.ignore_index) and \
                filename not in self._warned:
            self._warned.add(filename)
            warnings.warn(binary_0_255_message(filename, self.ignore_index),
                          LabelMapWarning, stacklevel=2)

        label_map = results.get('label_map')
        if label_map:
            mapped = label.copy()
            for old, new in label_map.items():
                mapped[label == old] = new
            label = mapped

        reduce_zero = results.get('reduce_zero_label')
        if self.reduce_zero_label is not None:
            if reduce_zero is not None and reduce_zero != \
                    self.reduce_zero_label:
                raise ValueError(
                    f'LoadAnnotations(reduce_zero_label='
                    f'{self.reduce_zero_label}) disagrees with the dataset '
                    f'(reduce_zero_label={reduce_zero}) for {filename}')
            reduce_zero = self.reduce_zero_label
        if reduce_zero:  # 0 -> ignored, k -> k - 1, ignored stays ignored
            dtype = label.dtype
            shifted = label.astype(np.int64) - 1
            shifted[(label == 0) | (label == self.ignore_index)] = \
                self.ignore_index
            label = shifted.astype(dtype)

        if self.num_classes is not None:
            if label is not raw:  # mapped or shifted
                present, _ = value_counts(label)
            bad = invalid_values(present, self.num_classes,
                                 self.ignore_index)
            if bad:
                raise ValueError(invalid_values_message(
                    filename, bad, self.num_classes, self.ignore_index,
                    bool(reduce_zero)))
        results['gt_seg_map'] = label
        results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in results['seg_fields']:
            results['seg_fields'].append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, '
                f'reduce_zero_label={self.reduce_zero_label}, '
                f"imdecode_backend='{self.imdecode_backend}')")
