"""Cityscapes polygons -> train-ID label maps, and the split lists.

``tools/dataset_converters/cityscapes.py`` is the command-line front end.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from .basesegdataset import scan_files

SPLITS = ('train', 'val', 'test')
POLYGON_SUFFIX = '_gtFine_polygons.json'
TRAIN_ID_SUFFIX = '_gtFine_labelTrainIds.png'
IMAGE_SUFFIX = '_leftImg8bit.png'


def polygons_to_train_ids(json_file: str) -> str:
    """Write ``*_gtFine_labelTrainIds.png`` next to a polygon JSON file.

    The label map is drawn by cityscapesscripts' ``json2labelImg`` with the
    ``trainIds`` encoding; it is written to a temporary name first and then
    renamed, so an interrupted run never leaves a half-written label map.

    Args:
        json_file: path of a ``*_gtFine_polygons.json`` file.

    Returns:
        The path of the label map.

    Raises:
        ValueError: the JSON file is invalid or names an unknown label
            (cityscapesscripts would exit the process).
    """
    from cityscapesscripts.preparation.json2labelImg import json2labelImg
    out = json_file[:-len(POLYGON_SUFFIX)] + TRAIN_ID_SUFFIX
    tmp = out + '.tmp.png'
    try:
        json2labelImg(json_file, tmp, 'trainIds')
    except SystemExit as e:  # cityscapesscripts' printError
        _remove(tmp)
        raise ValueError(f'cityscapesscripts could not convert {json_file} '
                         '(see the message above)') from e
    except Exception as e:
        _remove(tmp)
        raise ValueError(f'cannot convert {json_file}: {e}') from e
    os.replace(tmp, out)
    return out


def _remove(path: str) -> None:
    if osp.exists(path):
        os.remove(path)


def is_up_to_date(json_file: str) -> bool:
    """Whether the label map of ``json_file`` exists and is not older."""
    out = json_file[:-len(POLYGON_SUFFIX)] + TRAIN_ID_SUFFIX
    return osp.isfile(out) and osp.getmtime(out) >= osp.getmtime(json_file)


def write_split_lists(root: str, out_dir: str, gt_dir: str = 'gtFine',
                      splits: Sequence[str] = SPLITS) -> Dict[str, int]:
    """Write ``<split>.txt`` with one ``<city>/<city>_<seq>_<frame>`` a line.

    The ids come from the images in ``leftImg8bit/<split>``, or from the
    polygon files in ``<gt_dir>/<split>`` where there are no images. Splits
    with neither are skipped.

    Returns:
        Number of ids written per split.
    """
    os.makedirs(out_dir, exist_ok=True)
    written = {}
    for split in splits:
        img_dir = osp.join(root, 'leftImg8bit', split)
        ann_dir = osp.join(root, gt_dir, split)
        if osp.isdir(img_dir):
            ids = [p[:-len(IMAGE_SUFFIX)]
                   for p in scan_files(img_dir, IMAGE_SUFFIX)]
        elif osp.isdir(ann_dir):
            ids = [p[:-len(POLYGON_SUFFIX)]
                   for p in scan_files(ann_dir, POLYGON_SUFFIX)]
        else:
            continue
        with open(osp.join(out_dir, f'{split}.txt'), 'w') as f:
            f.writelines(i + '\n' for i in ids)
        written[split] = len(ids)
    return written


def convert_cityscapes(root: str,
                       gt_dir: str = 'gtFine',
                       out_dir: Optional[str] = None,
                       nproc: int = 1,
                       force: bool = False,
                       show_progress: bool = True) -> Dict[str, object]:
    """Make the train-ID label maps of a Cityscapes tree and its split lists.

    Every ``<root>/<gt_dir>/**/*_gtFine_polygons.json`` gets a
    ``*_gtFine_labelTrainIds.png`` next to it, unless one at least as new as
    the JSON exists (``force`` redoes them all).

    Args:
        root: Cityscapes root (holds ``leftImg8bit`` and ``gtFine``).
        gt_dir: annotation folder under ``root``.
        out_dir: where ``train.txt``/``val.txt``/``test.txt`` go (default
            ``root``).
        nproc: worker processes.
        force: convert even up-to-date files.
        show_progress: print a progress bar.

    Returns:
        ``converted`` and ``skipped`` counts, ``splits`` (ids per split).

    Raises:
        FileNotFoundError: ``<root>/<gt_dir>`` does not exist or holds no
            polygon file.
    """
    ann_root = osp.join(root, gt_dir)
    if not osp.isdir(ann_root):
        raise FileNotFoundError(
            f'annotation folder {ann_root} does not exist; expected the '
            f'Cityscapes layout {root}/{{leftImg8bit,{gt_dir}}}/'
            '{train,val,test}/<city>/')
    jsons = [osp.join(ann_root, p) for p in scan_files(ann_root,
                                                       POLYGON_SUFFIX)]
    if not jsons:
        raise FileNotFoundError(f'no *{POLYGON_SUFFIX} files under '
                                f'{ann_root}')
    todo: List[str] = jsons if force else [
        j for j in jsons if not is_up_to_date(j)]
    if todo:
        if show_progress:
            from mmengine.utils import track_parallel_progress, track_progress
            if nproc > 1:
                track_parallel_progress(polygons_to_train_ids, todo, nproc)
            else:
                track_progress(polygons_to_train_ids, todo)
        elif nproc > 1:
            from multiprocessing import Pool
            with Pool(nproc) as pool:
                pool.map(polygons_to_train_ids, todo)
        else:
            for j in todo:
                polygons_to_train_ids(j)
    splits = write_split_lists(root, out_dir or root, gt_dir)
    return dict(converted=len(todo), skipped=len(jsons) - len(todo),
                splits=splits)
