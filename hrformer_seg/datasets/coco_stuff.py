"""COCO-Stuff-10K: 171 classes (80 things, 91 stuff)."""
from typing import Dict, Optional

from hrformer_seg.registry import DATASETS
from .basesegdataset import BaseSegDataset

CONVERT_COMMAND = ('python tools/dataset_converters/coco_stuff10k.py '
                   'COCO_STUFF_10K_RELEASE_DIR data/coco_stuff10k')


@DATASETS.register_module()
class COCOStuff10KDataset(BaseSegDataset):
    """COCO-Stuff-10K in the layout of MMSegmentation:
    ``images/{train2014,test2014}/COCO_*.jpg`` with
    ``annotations/{train2014,test2014}/COCO_*_labelTrainIds.png`` (9,000
    training and 1,000 test images).

    The label maps hold 0 for unlabelled pixels and 1-171 for the classes
    (the COCO ids 1-182 without the 11 unused thing ids);
    ``reduce_zero_label=True`` ignores 0. Make them from the release's
    ``annotations/*.mat`` with ``tools/dataset_converters/coco_stuff10k.py``.

    Args:
        data_prefix: ``img_path`` / ``seg_map_path`` folders.
        reduce_zero_label: see above.
        **kwargs: the other arguments of :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=(
        'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
        'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
        'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep',
        'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
        'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard',
        'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard',
        'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork',
        'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
        'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair',
        'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv',
        'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave',
        'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase',
        'scissors', 'teddy bear', 'hair drier', 'toothbrush', 'banner',
        'blanket', 'branch', 'bridge', 'building-other', 'bush', 'cabinet',
        'cage', 'cardboard', 'carpet', 'ceiling-other', 'ceiling-tile',
        'cloth', 'clothes', 'clouds', 'counter', 'cupboard', 'curtain',
        'desk-stuff', 'dirt', 'door-stuff', 'fence', 'floor-marble',
        'floor-other', 'floor-stone', 'floor-tile', 'floor-wood', 'flower',
        'fog', 'food-other', 'fruit', 'furniture-other', 'grass', 'gravel',
        'ground-other', 'hill', 'house', 'leaves', 'light', 'mat', 'metal',
        'mirror-stuff', 'moss', 'mountain', 'mud', 'napkin', 'net', 'paper',
        'pavement', 'pillow', 'plant-other', 'plastic', 'platform',
        'playingfield', 'railing', 'railroad', 'river', 'road', 'rock',
        'roof', 'rug', 'salad', 'sand', 'sea', 'shelf', 'sky-other',
        'skyscraper', 'snow', 'solid-other', 'stairs', 'stone', 'straw',
        'structural-other', 'table', 'tent', 'textile-other', 'towel', 'tree',
        'vegetable', 'wall-brick', 'wall-concrete', 'wall-other',
        'wall-panel', 'wall-stone', 'wall-tile', 'wall-wood', 'water-other',
        'waterdrops', 'window-blind', 'window-other', 'wood'))
    CONVERT_HINT = ('Make the label maps from the COCO-Stuff-10K release '
                    f'with: {CONVERT_COMMAND}')

    def __init__(self,
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='images/train2014',
                     seg_map_path='annotations/train2014'),
                 reduce_zero_label: bool = True,
                 **kwargs) -> None:
        kwargs.setdefault('img_suffix', '.jpg')
        kwargs.setdefault('seg_map_suffix', '_labelTrainIds.png')
        super().__init__(data_prefix=data_prefix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
