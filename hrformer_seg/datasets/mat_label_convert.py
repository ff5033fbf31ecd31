"""Label maps from the MATLAB releases of PASCAL-Context and COCO-Stuff-10K.

Both releases store one ``.mat`` file per image; these functions write the
PNG label maps and split lists that :class:`PascalContextDataset59` and
:class:`COCOStuff10KDataset` read (the layout MMSegmentation's converters
write, so trees made by either work with both).
"""
import os
import os.path as osp
import re
import shutil
from functools import partial
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from .coco_stuff import COCOStuff10KDataset
from .pascal_context import PascalContextDataset59

# COCO ids 1-182 of which these 11 thing ids are never used
COCO_UNUSED_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83, 91)


def _load_mat_labels(path: str, key: str) -> np.ndarray:
    from scipy.io import loadmat  # only the converters need scipy
    try:
        data = loadmat(path)
    except Exception as exc:  # scipy raises several types for bad files
        raise ValueError(f'{path}: not a readable .mat file ({exc})') from exc
    if key not in data:
        raise KeyError(f'{path}: no {key!r} array (has '
                       f'{sorted(k for k in data if not k.startswith("__"))})')
    return np.asarray(data[key])


def lookup_table(mapping: Dict[int, int], default: int) -> np.ndarray:
    """A 65536-entry table: ``table[v]`` is ``mapping.get(v, default)``."""
    table = np.full(1 << 16, default, dtype=np.uint8)
    for old, new in mapping.items():
        table[old] = new
    return table


def _convert_one(job: Tuple[str, str], key: str, table: np.ndarray) -> None:
    src, dst = job
    labels = _load_mat_labels(src, key)
    if labels.ndim != 2 or labels.min() < 0 or labels.max() >= len(table):
        raise ValueError(f'{src}: {key} is not a 2-D map of label ids')
    os.makedirs(osp.dirname(dst), exist_ok=True)
    Image.fromarray(table[labels.astype(np.int64)]).save(dst)


def _run(jobs: List[Tuple[str, str]], work: Callable, nproc: int) -> None:
    from mmengine.utils import track_parallel_progress, track_progress
    if nproc > 1:
        track_parallel_progress(work, jobs, nproc)
    else:
        track_progress(work, jobs)


def _write_list(path: str, stems: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.writelines(f'{s}\n' for s in stems)


# ----------------------------------------------------------- PASCAL-Context
def read_context_labels(labels_txt: str) -> Dict[str, int]:
    """``labels.txt`` of the PASCAL-Context release (``<id>: <name>`` lines,
    459 classes) -> {name: id}."""
    names = {}
    with open(labels_txt) as f:
        for line in f:
            match = re.match(r'^\s*(\d+)\s*:\s*(.+?)\s*$', line)
            if match:
                names[match.group(2)] = int(match.group(1))
    if not names:
        raise ValueError(f'{labels_txt}: no "<id>: <name>" lines')
    return names


def context59_mapping(labels_txt: str) -> Dict[int, int]:
    """Release ids of the 59 classes -> 1..59 (background: 0); names are
    compared without case, spaces and underscores ('tv monitor')."""
    def norm(name: str) -> str:
        return re.sub(r'[\s_]', '', name.lower())

    ids = {norm(k): v for k, v in read_context_labels(labels_txt).items()}
    classes = PascalContextDataset59.METAINFO['classes']
    missing = [c for c in classes if norm(c) not in ids]
    if missing:
        raise KeyError(f'{labels_txt} lacks the classes {missing}')
    return {ids[norm(name)]: i + 1 for i, name in enumerate(classes)}


def convert_pascal_context(voc2010: str, release: str,
                           nproc: int = 1) -> Dict[str, int]:
    """Writes ``SegmentationClassContext/*.png`` (0 background, 1-59) and
    ``ImageSets/SegmentationContext/{train,val}.txt`` under ``voc2010``.

    Args:
        voc2010: ``VOCdevkit/VOC2010`` (``JPEGImages``, ``ImageSets/Main``).
        release: the PASCAL-Context release folder (``trainval/*.mat`` with
            a ``LabelMap`` each, ``labels.txt``).
        nproc: processes.

    Returns:
        Images per split.
    """
    table = lookup_table(
        context59_mapping(osp.join(release, 'labels.txt')), default=0)
    mat_dir = osp.join(release, 'trainval')
    have = {n[:-4] for n in os.listdir(mat_dir) if n.endswith('.mat')}
    counts, jobs = {}, []
    for split in ('train', 'val'):
        voc_list = osp.join(voc2010, 'ImageSets', 'Main', f'{split}.txt')
        with open(voc_list) as f:
            stems = sorted(s for s in (line.split()[0] for line in f
                                       if line.strip()) if s in have)
        _write_list(osp.join(voc2010, 'ImageSets', 'SegmentationContext',
                             f'{split}.txt'), stems)
        counts[split] = len(stems)
        jobs += [(osp.join(mat_dir, f'{s}.mat'),
                  osp.join(voc2010, 'SegmentationClassContext', f'{s}.png'))
                 for s in stems]
    _run(jobs, partial(_convert_one, key='LabelMap', table=table), nproc)
    return counts


# ----------------------------------------------------------- COCO-Stuff-10K
def coco_stuff_mapping() -> Dict[int, int]:
    """COCO ids 1-182 (0 unlabelled) -> train ids 1-171 (0 unlabelled)."""
    used = [i for i in range(1, 183) if i not in COCO_UNUSED_IDS]
    assert len(used) == len(COCOStuff10KDataset.METAINFO['classes'])
    return {coco_id: i + 1 for i, coco_id in enumerate(used)}


def convert_coco_stuff10k(release: str, out_dir: str,
                          nproc: int = 1) -> Dict[str, int]:
    """Copies the images and writes ``*_labelTrainIds.png`` label maps.

    Args:
        release: the COCO-Stuff-10K release (``images/*.jpg``,
            ``annotations/*.mat`` with an ``S`` map each,
            ``imageLists/{train,test}.txt``).
        out_dir: gets ``images/{train2014,test2014}`` and
            ``annotations/{train2014,test2014}``.
        nproc: processes.

    Returns:
        Images per split.
    """
    table = lookup_table(coco_stuff_mapping(), default=0)
    counts, jobs = {}, []
    for split, folder in (('train', 'train2014'), ('test', 'test2014')):
        with open(osp.join(release, 'imageLists', f'{split}.txt')) as f:
            stems = [line.strip() for line in f if line.strip()]
        counts[split] = len(stems)
        os.makedirs(osp.join(out_dir, 'images', folder), exist_ok=True)
        for stem in stems:
            shutil.copyfile(osp.join(release, 'images', f'{stem}.jpg'),
                            osp.join(out_dir, 'images', folder, f'{stem}.jpg'))
            jobs.append((osp.join(release, 'annotations', f'{stem}.mat'),
                         osp.join(out_dir, 'annotations', folder,
                                  f'{stem}_labelTrainIds.png')))
    _run(jobs, partial(_convert_one, key='S', table=table), nproc)
    return counts
