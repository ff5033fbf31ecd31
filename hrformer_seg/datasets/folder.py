"""Your own data: a folder of images and a parallel folder of masks."""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

from mmengine.logging import print_log

from hrformer_seg.registry import DATASETS
from .basesegdataset import BaseSegDataset, scan_files


@DATASETS.register_module()
class FolderSegDataset(BaseSegDataset):
    """Images and label maps in MMSegmentation's layout for custom data::

        DATA_ROOT/images/train/NAME.jpg        (or .png, .jpeg)
        DATA_ROOT/annotations/train/NAME.png   one channel, class per pixel
        DATA_ROOT/images/val/...  DATA_ROOT/annotations/val/...

    A label map holds the class index of each pixel, 0 .. K-1 for the K
    classes of ``metainfo['classes']`` and 255 for ignored pixels. With
    ``reduce_zero_label=True`` the file's 0 is ignored and 1 .. K become
    0 .. K-1 (for masks whose 0 means "unlabelled").

    The class names are required; the palette is optional (stable colours
    are drawn when it is left out). An image without its mask raises an
    error at start-up, a mask without its image is logged as a warning
    (``tools/analysis_tools/check_dataset.py`` reports both, and the
    mistakes inside the masks).

    Args:
        metainfo: ``dict(classes=(...), palette=[[r, g, b], ...])``.
        data_prefix: ``img_path`` / ``seg_map_path`` under ``data_root``
            (default: the training split).
        img_suffix: image suffixes tried for each name.
        seg_map_suffix: suffix of the label maps.
        **kwargs: the other arguments of :class:`BaseSegDataset`.

    Raises:
        ValueError: no class names, or a name given twice.
    """

    def __init__(self,
                 metainfo: Optional[dict] = None,
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='images/train',
                     seg_map_path='annotations/train'),
                 img_suffix: Union[str, Sequence[str]] = ('.jpg', '.png',
                                                          '.jpeg'),
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        classes = (metainfo or {}).get('classes')
        if not classes or isinstance(classes, str):
            raise ValueError(
                f'{type(self).__name__} needs the names of the classes, e.g. '
                "metainfo=dict(classes=('background', 'crack')); got "
                f'metainfo={metainfo!r}')
        twice = sorted({c for c in classes if list(classes).count(c) > 1})
        if twice:
            raise ValueError(f'{type(self).__name__}: the classes {twice} '
                             f'are named more than once in {tuple(classes)}')
        super().__init__(metainfo=metainfo, data_prefix=data_prefix,
                         img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        seg_dir = self.data_prefix.get('seg_map_path')
        if self.has_labels:
            paired = {item['seg_map_path'] for item in data_list}
            lone = [osp.join(seg_dir, rel)
                    for rel in scan_files(seg_dir, self.seg_map_suffix)
                    if osp.join(seg_dir, rel) not in paired]
            if lone:
                shown = '\n  '.join(lone[:5])
                print_log(
                    f'{type(self).__name__}: {len(lone)} label maps in '
                    f'{seg_dir} have no image and are not used, e.g.\n  '
                    f'{shown}', logger='current', level=logging.WARNING)
        return data_list
