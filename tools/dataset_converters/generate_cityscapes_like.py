"""Generate a Cityscapes-format dataset of synthetic street scenes.

    python tools/dataset_converters/generate_cityscapes_like.py \\
        data/cityscapes_demo --train 200 --val 30 --height 128 --width 256 \\
        --seed 0 --nproc 2

writes ``leftImg8bit/{train,val[,test]}/<city>/*_leftImg8bit.png`` and
``gtFine/{train,val}/<city>/*_gtFine_{polygons.json,labelIds.png}`` like the
real dataset, then (unless ``--no-convert``) makes the
``*_gtFine_labelTrainIds.png`` maps and split lists with
``tools/dataset_converters/cityscapes.py``'s converter. Same seed, same files,
whatever ``--nproc``.
"""
import argparse
import time

from hrformer_seg.datasets.cityscapes_convert import convert_cityscapes
from hrformer_seg.scene_generator import (
    OPTIONAL_CLASSES,
    generate_cityscapes_like,
)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Generate a Cityscapes-like dataset')
    parser.add_argument('out_dir', help='dataset root to write')
    parser.add_argument('--train', type=int, default=200,
                        help='number of training images')
    parser.add_argument('--val', type=int, default=30,
                        help='number of validation images')
    parser.add_argument('--test', type=int, default=0,
                        help='number of test images (no labels)')
    parser.add_argument('--height', type=int, default=128)
    parser.add_argument('--width', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument(
        '--exclude', default='',
        help='comma-separated classes not to draw, among: ' +
        ', '.join(OPTIONAL_CLASSES) + " (e.g. 'wall,fence')")
    parser.add_argument('--no-convert', action='store_true',
                        help='skip making the labelTrainIds maps')
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.time()
    counts = generate_cityscapes_like(
        args.out_dir, args.train, args.val, args.test, height=args.height,
        width=args.width, seed=args.seed, nproc=args.nproc,
        exclude=[c.strip() for c in args.exclude.split(',') if c.strip()])
    generated = time.time()
    print(f'\ngenerated {counts} images of {args.height}x{args.width} in '
          f'{generated - start:.1f} s')
    if not args.no_convert and (args.train or args.val):
        stats = convert_cityscapes(args.out_dir, nproc=args.nproc)
        print(f'\nconverted {stats["converted"]} annotation files in '
              f'{time.time() - generated:.1f} s; split lists: '
              f'{stats["splits"]}')


if __name__ == '__main__':
    main()
