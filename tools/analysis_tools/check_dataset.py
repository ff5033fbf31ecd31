"""Check a segmentation dataset for the label mistakes that fail silently.

    python tools/analysis_tools/check_dataset.py DATA_ROOT [--num-classes K]
        [--split train [val ...]] [--reduce-zero-label] [--ignore-index 255]
        [--classes NAME ...]
    python tools/analysis_tools/check_dataset.py CONFIG [--split train]

DATA_ROOT has the folder layout ``images/{train,val}/NAME.jpg|png`` and
``annotations/{train,val}/NAME.png``. With a CONFIG the folders, suffixes,
classes and ``reduce_zero_label`` of its train/val datasets are used.

Every pair is read; each problem is printed with the file it is in: image
without mask, mask without image, unreadable or truncated file, mask with
several channels, mask of another size than its image, values >= K other
than the ignore value, masks of only 0 and 255. Then a class without
pixels (a warning), the pixel frequency of each class and suggested class
weights. Exit status 1 when an error was found, 0 otherwise.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from hrformer_seg.datasets.check import check_split, format_report
from hrformer_seg.utils import resolve_num_classes
from hrformer_seg.utils.tool_setup import load_config


def split_args_from_config(config: str, splits: Optional[List[str]]):
    """(name, check_split kwargs, classes) of the config's datasets."""
    cfg = load_config(config)  # checks the class counts, naming the file
    num_classes = resolve_num_classes(cfg)
    found = []
    for name in splits or ['train', 'val']:
        loader = cfg.get(f'{name}_dataloader')
        if not loader:
            raise KeyError(f'{config} has no {name}_dataloader')
        dataset = loader.dataset
        root = dataset.get('data_root', '')
        prefix = dataset.get('data_prefix', {})
        suffix = dataset.get('img_suffix', ('.jpg', '.png', '.jpeg'))
        kwargs = dict(
            img_dir=osp.join(root, prefix.get('img_path', '')),
            seg_dir=osp.join(root, prefix.get('seg_map_path') or ''),
            img_suffixes=(suffix, ) if isinstance(suffix, str) else suffix,
            seg_map_suffix=dataset.get('seg_map_suffix', '.png'),
            num_classes=num_classes,
            ignore_index=dataset.get('ignore_index', 255),
            reduce_zero_label=dataset.get('reduce_zero_label', False))
        classes = (dataset.get('metainfo') or {}).get('classes')
        found.append((name, kwargs, classes))
    return found


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check images and label maps for label mistakes')
    parser.add_argument('target', help='DATA_ROOT folder or a config file')
    parser.add_argument('--num-classes', type=int,
                        help='number of classes K (values >= K are errors); '
                        'from the config with a CONFIG')
    parser.add_argument('--split', nargs='+',
                        help='splits to check (default: train and val)')
    parser.add_argument('--classes', nargs='+', help='class names, printed '
                        'with the frequencies')
    parser.add_argument('--reduce-zero-label', action='store_true',
                        help='file value 0 is ignored, v is class v-1')
    parser.add_argument('--ignore-index', type=int, default=255)
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.target.endswith('.py'):
        splits = split_args_from_config(args.target, args.split)
        if args.num_classes is not None:
            for _, kwargs, _ in splits:
                kwargs['num_classes'] = args.num_classes
    elif osp.isdir(args.target):
        num_classes = args.num_classes
        if num_classes is None and args.classes:
            num_classes = len(args.classes)
        splits = [
            (name, dict(img_dir=osp.join(args.target, 'images', name),
                        seg_dir=osp.join(args.target, 'annotations', name),
                        num_classes=num_classes,
                        ignore_index=args.ignore_index,
                        reduce_zero_label=args.reduce_zero_label),
             args.classes)
            for name in args.split or ['train', 'val']]
        if args.split is None:  # a dataset without a val split is fine
            splits = [s for s in splits if s[0] == 'train'
                      or osp.isdir(s[1]['img_dir'])]
    else:
        raise FileNotFoundError(f'{args.target} is neither a folder nor a '
                                'config file')
    errors = 0
    for name, kwargs, classes in splits:
        if kwargs['num_classes'] is None:
            print(f'{name}: no --num-classes, values are not checked '
                  'against a class count')
        report = check_split(name, progress=not args.no_progress, **kwargs)
        print(format_report(report, classes))
        errors += len(report.errors)
    print(f'{errors} errors found' if errors else 'no errors found')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
