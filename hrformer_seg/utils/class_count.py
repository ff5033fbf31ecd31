"""One class count for the whole config: the dataset's classes.

A config names its classes once (the datasets' ``metainfo.classes``, or the
class names of the dataset type). :func:`resolve_num_classes` fills every
``num_classes=None`` of the model's heads and of the ``LoadAnnotations``
steps with their number and refuses a config where two of them disagree,
naming both keys and both numbers. The tools and
:func:`~hrformer_seg.apis.init_model` call it after loading a config;
code that builds a runner itself calls it before ``Runner.from_cfg``.
"""
from typing import Any, Iterator, List, Optional, Tuple

from mmengine.config import Config

from hrformer_seg.registry import DATASETS

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class ClassCountError(ValueError):
    """Two parts of a config disagree on the number of classes."""


def _walk(node: Any, key: str) -> Iterator[Tuple[str, dict]]:
    """(dotted key, dict) of every dict under ``node``."""
    if isinstance(node, dict):
        yield key, node
        for name, value in node.items():
            yield from _walk(value, f'{key}.{name}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk(value, f'{key}[{i}]')


def _dataset_classes(dataset: dict) -> Optional[tuple]:
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None and isinstance(dataset.get('type'), str):
        try:
            dataset_cls = DATASETS.get(dataset['type'])
        except KeyError:  # another scope's name; nothing to learn from it
            dataset_cls = None
        classes = (getattr(dataset_cls, 'METAINFO', None) or {}).get(
            'classes')
    return tuple(classes) if classes else None


def _config_classes(cfg: Config) -> Tuple[Optional[str], Optional[tuple]]:
    """(where, classes) of the config's datasets; they must agree."""
    found: List[Tuple[str, tuple]] = []
    for loader in _LOADERS:
        for key, node in _walk((cfg.get(loader) or {}).get('dataset'),
                               f'{loader}.dataset'):
            if 'type' in node and ('metainfo' in node or 'data_root' in node
                                   or 'data_prefix' in node):
                classes = _dataset_classes(node)
                if classes is not None:
                    found.append((key, classes))
    for key, classes in found[1:]:
        if len(classes) != len(found[0][1]):
            raise ClassCountError(
                f'{found[0][0]} has {len(found[0][1])} classes but {key} has '
                f'{len(classes)}: give every split the same metainfo.classes')
    return found[0] if found else (None, None)


def resolve_num_classes(cfg: Config, strict: bool = True) -> Optional[int]:
    """Fill and check every ``num_classes`` of ``cfg`` (in place).

    The count comes from the datasets' classes; without any (a bare
    :class:`BaseSegDataset`), from the model's heads, which must then agree.
    ``strict=False`` (inference, where the datasets are not used) only
    fills the ``None`` entries and lets the others differ.

    Returns:
        The number of classes, None when the config names it nowhere.

    Raises:
        ClassCountError: naming the two keys and numbers that disagree, or
            a ``num_classes=None`` that nothing fills.
    """
    source, classes = _config_classes(cfg)
    count = None if classes is None else len(classes)
    targets = [(key, node) for key, node in _walk(cfg.get('model'), 'model')
               if 'num_classes' in node]
    for part in ('train_pipeline', 'test_pipeline', 'tta_pipeline',
                 *_LOADERS):
        targets += [(key, node) for key, node in _walk(cfg.get(part), part)
                    if node.get('type') == 'LoadAnnotations']
    for key, node in targets:
        value = node.get('num_classes')
        if value is None:
            continue
        if count is None:
            count, source = value, f'{key}.num_classes'
        elif value != count and strict:
            what = (f'{source} has {count} classes {classes}' if classes
                    else f'{source} is {count}')
            raise ClassCountError(
                f'{key}.num_classes is {value} but {what}: set it to '
                f'{count}, or to None to take the count from the classes')
    for key, node in targets:
        if node.get('num_classes') is not None:
            continue
        if key.startswith('model') or count is not None:
            if count is None:
                raise ClassCountError(
                    f'{key}.num_classes is None and no dataset names its '
                    'classes: set metainfo=dict(classes=(...)) on the '
                    'datasets or give num_classes')
            node['num_classes'] = count
    return count
