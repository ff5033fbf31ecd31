"""ADE20K (SceneParsing, ADEChallengeData2016): 150 classes."""
from typing import Dict, Optional

from hrformer_seg.registry import DATASETS
from .basesegdataset import BaseSegDataset


@DATASETS.register_module()
class ADE20KDataset(BaseSegDataset):
    """ADE20K as released for the SceneParsing challenge (no conversion):
    ``images/{training,validation}/ADE_*.jpg`` with
    ``annotations/{training,validation}/ADE_*.png``.

    The label maps hold 0 for "other" and 1-150 for the classes; with
    ``reduce_zero_label=True`` (the default, and how every published ADE20K
    number is computed) 0 is ignored and 1-150 become 0-149.

    Args:
        data_prefix: ``img_path`` / ``seg_map_path`` folders under
            ``data_root`` (default: the training split).
        reduce_zero_label: see above.
        **kwargs: the other arguments of :class:`BaseSegDataset`.
    """

    METAINFO = dict(classes=(
        'wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road', 'bed',
        'windowpane', 'grass', 'cabinet', 'sidewalk', 'person', 'earth',
        'door', 'table', 'mountain', 'plant', 'curtain', 'chair', 'car',
        'water', 'painting', 'sofa', 'shelf', 'house', 'sea', 'mirror', 'rug',
        'field', 'armchair', 'seat', 'fence', 'desk', 'rock', 'wardrobe',
        'lamp', 'bathtub', 'railing', 'cushion', 'base', 'box', 'column',
        'signboard', 'chest of drawers', 'counter', 'sand', 'sink',
        'skyscraper', 'fireplace', 'refrigerator', 'grandstand', 'path',
        'stairs', 'runway', 'case', 'pool table', 'pillow', 'screen door',
        'stairway', 'river', 'bridge', 'bookcase', 'blind', 'coffee table',
        'toilet', 'flower', 'book', 'hill', 'bench', 'countertop', 'stove',
        'palm', 'kitchen island', 'computer', 'swivel chair', 'boat', 'bar',
        'arcade machine', 'hovel', 'bus', 'towel', 'light', 'truck', 'tower',
        'chandelier', 'awning', 'streetlight', 'booth', 'television receiver',
        'airplane', 'dirt track', 'apparel', 'pole', 'land', 'bannister',
        'escalator', 'ottoman', 'bottle', 'buffet', 'poster', 'stage', 'van',
        'ship', 'fountain', 'conveyer belt', 'canopy', 'washer', 'plaything',
        'swimming pool', 'stool', 'barrel', 'basket', 'waterfall', 'tent',
        'bag', 'minibike', 'cradle', 'oven', 'ball', 'food', 'step', 'tank',
        'trade name', 'microwave', 'pot', 'animal', 'bicycle', 'lake',
        'dishwasher', 'screen', 'blanket', 'sculpture', 'hood', 'sconce',
        'vase', 'traffic light', 'tray', 'ashcan', 'fan', 'pier',
        'crt screen', 'plate', 'monitor', 'bulletin board', 'shower',
        'radiator', 'glass', 'clock', 'flag'))

    def __init__(self,
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='images/training',
                     seg_map_path='annotations/training'),
                 reduce_zero_label: bool = True,
                 **kwargs) -> None:
        kwargs.setdefault('img_suffix', '.jpg')
        kwargs.setdefault('seg_map_suffix', '.png')
        super().__init__(data_prefix=data_prefix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
