"""PASCAL-Context, 59 classes (PASCAL VOC 2010 images)."""
from typing import Dict, Optional

from hrformer_seg.registry import DATASETS
from .basesegdataset import BaseSegDataset

CONVERT_COMMAND = ('python tools/dataset_converters/pascal_context.py '
                   'data/VOCdevkit/VOC2010 PASCAL_CONTEXT_RELEASE_DIR')


@DATASETS.register_module()
class PascalContextDataset59(BaseSegDataset):
    """PASCAL-Context with the 59 most frequent classes, in the layout of
    MMSegmentation: ``JPEGImages/*.jpg``, ``SegmentationClassContext/*.png``
    and the split lists ``ImageSets/SegmentationContext/{train,val}.txt``
    (4,998 / 5,105 images), all under ``VOCdevkit/VOC2010``.

    The label maps hold 0 for background (every other class) and 1-59 for
    the classes; ``reduce_zero_label=True`` ignores the background, as the
    59-class benchmark does. Make them from the PASCAL-Context release
    (``trainval/*.mat``, ``labels.txt``) with
    ``tools/dataset_converters/pascal_context.py``.

    Args:
        ann_file: split list relative to ``data_root``.
        data_prefix: ``img_path`` / ``seg_map_path`` folders.
        reduce_zero_label: see above.
        **kwargs: the other arguments of :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=(
        'aeroplane', 'bag', 'bed', 'bedclothes', 'bench', 'bicycle', 'bird',
        'boat', 'book', 'bottle', 'building', 'bus', 'cabinet', 'car', 'cat',
        'ceiling', 'chair', 'cloth', 'computer', 'cow', 'cup', 'curtain',
        'dog', 'door', 'fence', 'floor', 'flower', 'food', 'grass', 'ground',
        'horse', 'keyboard', 'light', 'motorbike', 'mountain', 'mouse',
        'person', 'plate', 'platform', 'pottedplant', 'road', 'rock', 'sheep',
        'shelves', 'sidewalk', 'sign', 'sky', 'snow', 'sofa', 'table',
        'track', 'train', 'tree', 'truck', 'tvmonitor', 'wall', 'water',
        'window', 'wood'))
    CONVERT_HINT = ('Make the label maps from the PASCAL-Context release '
                    f'with: {CONVERT_COMMAND}')

    def __init__(self,
                 ann_file: str = 'ImageSets/SegmentationContext/train.txt',
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='JPEGImages',
                     seg_map_path='SegmentationClassContext'),
                 reduce_zero_label: bool = True,
                 **kwargs) -> None:
        kwargs.setdefault('img_suffix', '.jpg')
        kwargs.setdefault('seg_map_suffix', '.png')
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
