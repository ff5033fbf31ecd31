"""The Cityscapes dataset (fine annotations, 19 train classes)."""
from typing import Dict, Optional

from hrformer_seg.registry import DATASETS
from .basesegdataset import BaseSegDataset

CONVERT_COMMAND = 'python tools/dataset_converters/cityscapes.py ' \
    'data/cityscapes --nproc 8'


@DATASETS.register_module()
class CityscapesDataset(BaseSegDataset):
    """Cityscapes: ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` images
    with ``gtFine/<split>/<city>/*_gtFine_labelTrainIds.png`` label maps.

    The train-ID label maps are not shipped with Cityscapes; make them from
    the ``*_gtFine_polygons.json`` files with ``python
    tools/dataset_converters/cityscapes.py data/cityscapes --nproc 8``.
    Pixels of classes not evaluated are 255 (``ignore_index``).

    For the test split (no labels) pass
    ``data_prefix=dict(img_path='leftImg8bit/test', seg_map_path=None)``.

    Args:
        img_suffix: image file suffix.
        seg_map_suffix: label-map file suffix.
        data_prefix: ``img_path`` / ``seg_map_path`` folders under
            ``data_root``.
        **kwargs: the other arguments of :class:`BaseSegDataset`
            (``data_root``, ``pipeline``, ``test_mode``, ``ignore_index``,
            ``reduce_zero_label``, ``lazy_init``, ``ann_file``, ...).
    """

    METAINFO = dict(
        classes=('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                 'traffic light', 'traffic sign', 'vegetation', 'terrain',
                 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                 'motorcycle', 'bicycle'),
        palette=[[128, 64, 128], [244, 35, 232], [70, 70, 70],
                 [102, 102, 156], [190, 153, 153], [153, 153, 153],
                 [250, 170, 30], [220, 220, 0], [107, 142, 35],
                 [152, 251, 152], [70, 130, 180], [220, 20, 60],
                 [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100],
                 [0, 80, 100], [0, 0, 230], [119, 11, 32]])
    CONVERT_HINT = ('Create the *_gtFine_labelTrainIds.png label maps from '
                    'the *_gtFine_polygons.json files with: '
                    f'{CONVERT_COMMAND}')

    def __init__(self,
                 img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelTrainIds.png',
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='leftImg8bit/train',
                     seg_map_path='gtFine/train'),
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            **kwargs)
