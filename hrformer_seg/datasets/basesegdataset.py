"""A semantic segmentation dataset made of image / label-map file pairs."""
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.registry import DefaultScope

from hrformer_seg.registry import DATASETS, SCOPE


def scan_files(directory: str, suffix: Union[str, Tuple[str, ...]]
               ) -> List[str]:
    """Paths relative to ``directory`` of all files ending with ``suffix``
    (a string or a tuple of them).

    Walks sub-folders (Cityscapes keeps one folder per city) and returns the
    paths sorted, so the order does not depend on the file system.
    """
    found = []
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs.sort()
        for name in files:
            if name.endswith(suffix):
                found.append(osp.relpath(osp.join(root, name), directory))
    return sorted(found)


def scan_images(directory: str, suffixes: Tuple[str, ...]
                ) -> Tuple[Dict[str, str], List[Tuple[str, str]]]:
    """{stem: path} of the images under ``directory`` (stem: the relative
    path without its suffix), and the (kept, other) paths of stems found
    twice (``a.jpg`` and ``a.png``)."""
    images: Dict[str, str] = {}
    twice = []
    for rel in scan_files(directory, suffixes):
        suffix = next(s for s in suffixes if rel.endswith(s))
        stem, path = rel[:-len(suffix)], osp.join(directory, rel)
        if stem in images:
            twice.append((images[stem], path))
        else:
            images[stem] = path
    return images, twice


@DATASETS.register_module()
class BaseSegDataset(BaseDataset):
    """Images in one folder tree, label maps in a parallel tree.

    An image ``<img_path>/<rel>/<stem><img_suffix>`` is paired with the label
    map ``<seg_map_path>/<rel>/<stem><seg_map_suffix>``. The pairs are listed
    either from a split file (``ann_file``: one ``<rel>/<stem>`` a line, as
    written by the dataset converters) or by scanning the image folder; the
    list is sorted by image path.

    At initialisation the tree is checked and a missing folder, an image
    without its label map or an empty split raises an error naming the paths.

    Each item of the data list is a dict with ``img_path``, ``seg_map_path``
    (None without labels), ``label_map`` (None or {old: new} when
    ``metainfo`` selects a subset of the classes), ``reduce_zero_label`` and
    ``seg_fields`` (an empty list that loading transforms extend), as in
    MMSegmentation.

    Args:
        ann_file: optional split list, relative to ``data_root``.
        img_suffix: suffix of image files, or a tuple of suffixes (e.g.
            ``('.jpg', '.png')``; two images of one name are an error).
        seg_map_suffix: suffix of label-map files.
        metainfo: overrides of :attr:`METAINFO`; ``classes`` may be a subset
            of the dataset's classes (labels of the others become
            ``ignore_index``), ``palette`` their colours.
        data_root: root that relative paths are joined to.
        data_prefix: ``img_path`` and ``seg_map_path`` folders; set
            ``seg_map_path=None`` for a split without labels (test).
        filter_cfg: unused by this class; kept for the mmengine interface.
        indices: keep only these items (int: the first ``indices``).
        serialize_data: store the data list as one byte array (shared by
            dataloader workers).
        pipeline: data transforms.
        test_mode: never re-sample a failed item.
        lazy_init: defer listing (and checking) the files to first use.
        max_refetch: tries to find a valid item when the pipeline returns
            None.
        ignore_index: label value excluded from loss and metrics.
        reduce_zero_label: label 0 becomes ``ignore_index`` and the others
            shift down by one (ADE20K convention; False for Cityscapes).
        backend_args: mmengine file backend arguments, passed to nothing
            here but kept in the config for the loading transforms.
    """

    METAINFO: dict = dict()
    #: printed after "missing label map" errors; subclasses name a converter.
    CONVERT_HINT: str = ''

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: Union[str, Sequence[str]] = '.jpg',
                 seg_map_suffix: str = '.png',
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='', seg_map_path=''),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 ignore_index: int = 255,
                 reduce_zero_label: bool = False,
                 backend_args: Optional[dict] = None) -> None:
        self.img_suffix = img_suffix if isinstance(img_suffix, str) \
            else tuple(img_suffix)
        self.seg_map_suffix = seg_map_suffix
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.backend_args = backend_args.copy() if backend_args else None
        data_prefix = dict(data_prefix)
        if 'img_path' not in data_prefix:
            raise KeyError(f'{type(self).__name__}: data_prefix needs an '
                           f"'img_path' entry, got {data_prefix}")
        # mmengine only accepts string prefixes: keep "no labels" aside.
        self.has_labels = data_prefix.get('seg_map_path') is not None
        if not self.has_labels:
            data_prefix.pop('seg_map_path', None)

        self.label_map = self.get_label_map(metainfo)
        # Outside a runner no default scope is set and mmengine would build
        # ``dict(type='LoadAnnotations')`` (also inside mmcv's TestTimeAug)
        # from the root registry, i.e. mmcv's class: build in our scope.
        scope = SCOPE if DefaultScope.get_current_instance() is None else None
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(
                ann_file=ann_file,
                metainfo=metainfo,
                data_root=data_root,
                data_prefix=data_prefix,
                filter_cfg=filter_cfg,
                indices=indices,
                serialize_data=serialize_data,
                pipeline=pipeline,
                test_mode=test_mode,
                lazy_init=lazy_init,
                max_refetch=max_refetch)
        self._metainfo.update(
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label)
        self._metainfo['palette'] = self._pick_palette(metainfo)

    # ------------------------------------------------------------- classes --
    @classmethod
    def get_label_map(cls,
                      new_metainfo: Optional[dict] = None
                      ) -> Optional[Dict[int, int]]:
        """{old label: new label} when ``new_metainfo`` selects classes.

        Returns None when the classes are unchanged. Classes left out map to
        255 (the caller's ignore value is applied by LoadAnnotations).

        Raises:
            ValueError: a requested class is not one of the dataset's.
        """
        old = cls.METAINFO.get('classes')
        new = (new_metainfo or {}).get('classes')
        if not old or not new or list(new) == list(old):
            return None
        unknown = [c for c in new if c not in old]
        if unknown:
            raise ValueError(f'{cls.__name__}: classes {unknown} are not in '
                             f'the dataset classes {list(old)}')
        return {i: (list(new).index(c) if c in new else 255)
                for i, c in enumerate(old)}

    def _pick_palette(self, new_metainfo: Optional[dict]) -> list:
        classes = self._metainfo.get('classes') or ()
        palette = (new_metainfo or {}).get('palette')
        if palette is not None:
            if len(palette) != len(classes):
                raise ValueError(
                    f'{type(self).__name__}: palette has {len(palette)} '
                    f'colours for {len(classes)} classes')
            return [list(c) for c in palette]
        old_palette = self.METAINFO.get('palette')
        if old_palette and self.label_map is None:
            return [list(c) for c in old_palette]
        if old_palette:
            old_classes = list(self.METAINFO['classes'])
            return [list(old_palette[old_classes.index(c)]) for c in classes]
        rng = np.random.RandomState(42)  # stable colours for new datasets
        return rng.randint(0, 256, (len(classes), 3)).tolist()

    # ---------------------------------------------------------------- files --
    def load_data_list(self) -> List[dict]:
        """List the image / label pairs and check the tree.

        Raises:
            FileNotFoundError: a folder, an image or a label map is missing.
            ValueError: the split has no images.
        """
        img_dir = self.data_prefix['img_path']
        seg_dir = self.data_prefix.get('seg_map_path')
        if not osp.isdir(img_dir):
            raise FileNotFoundError(
                f'{type(self).__name__}: image folder {img_dir} does not '
                f'exist (data_root={self.data_root!r}, data_prefix='
                f'{self.data_prefix}).')
        if self.has_labels and not osp.isdir(seg_dir):
            raise FileNotFoundError(
                f'{type(self).__name__}: label folder {seg_dir} does not '
                f'exist. {self.CONVERT_HINT}'.rstrip())
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(f'{type(self).__name__}: split list '
                                        f'{self.ann_file} does not exist.')
            with open(self.ann_file) as f:
                stems = [line.strip() for line in f if line.strip()]
            images = {s: self._find_image(img_dir, s) for s in stems}
            missing = [s for s, path in images.items() if path is None]
            if missing:
                raise FileNotFoundError(
                    f'{type(self).__name__}: {len(missing)} images of '
                    f'{self.ann_file} are missing, e.g. '
                    f'{osp.join(img_dir, missing[0])}{self._suffixes[0]}')
        else:
            images = self._scan_images(img_dir)
        stems = list(images)
        if not stems:
            where = self.ann_file or img_dir
            raise ValueError(
                f'{type(self).__name__}: no images ending with '
                f'{" or ".join(map(repr, self._suffixes))} in {where}; the '
                'split is empty.')

        data_list, no_label = [], []
        for stem in sorted(stems):
            seg_map = None
            if self.has_labels:
                seg_map = osp.join(seg_dir, stem + self.seg_map_suffix)
                if not osp.isfile(seg_map):
                    no_label.append(seg_map)
            data_list.append(
                dict(img_path=images[stem],
                     seg_map_path=seg_map,
                     label_map=self.label_map,
                     reduce_zero_label=self.reduce_zero_label,
                     seg_fields=[]))
        if no_label:
            shown = '\n  '.join(no_label[:5])
            raise FileNotFoundError(
                f'{type(self).__name__}: {len(no_label)} of {len(stems)} '
                f'images have no label map, e.g.\n  {shown}\n'
                f'{self.CONVERT_HINT}'.rstrip())
        return data_list

    @property
    def _suffixes(self) -> Tuple[str, ...]:
        return (self.img_suffix, ) if isinstance(self.img_suffix, str) \
            else self.img_suffix

    def _find_image(self, img_dir: str, stem: str) -> Optional[str]:
        for suffix in self._suffixes:
            path = osp.join(img_dir, stem + suffix)
            if osp.isfile(path):
                return path
        return None

    def _scan_images(self, img_dir: str) -> Dict[str, str]:
        """{stem: image path} of the image folder.

        Raises:
            ValueError: two images share a name (``a.jpg`` and ``a.png``).
        """
        images, twice = scan_images(img_dir, self._suffixes)
        if twice:
            kept, other = twice[0]
            raise ValueError(
                f'{type(self).__name__}: {kept} and {other} share the label '
                'map of one name; keep one of them')
        return images
