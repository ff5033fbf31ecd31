"""Make Cityscapes train-ID label maps and split lists.

    python tools/dataset_converters/cityscapes.py data/cityscapes --nproc 8

writes ``gtFine/<split>/<city>/*_gtFine_labelTrainIds.png`` next to every
``*_gtFine_polygons.json`` (with cityscapesscripts) and
``train.txt``/``val.txt``/``test.txt`` (``<city>/<city>_<seq>_<frame>`` a
line) into the root or ``-o``. Up-to-date label maps are skipped; ``--force``
redoes them.
"""
import argparse
import time

from hrformer_seg.datasets.cityscapes_convert import convert_cityscapes


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert Cityscapes polygon annotations to train IDs')
    parser.add_argument('cityscapes_path', help='Cityscapes root folder')
    parser.add_argument('--gt-dir', default='gtFine',
                        help='annotation folder under the root')
    parser.add_argument('-o', '--out-dir',
                        help='folder for the split lists (default: root)')
    parser.add_argument('--nproc', default=1, type=int,
                        help='number of processes')
    parser.add_argument('--force', action='store_true',
                        help='convert files whose label map is up to date')
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.time()
    stats = convert_cityscapes(args.cityscapes_path, gt_dir=args.gt_dir,
                               out_dir=args.out_dir, nproc=args.nproc,
                               force=args.force)
    print(f'\nconverted {stats["converted"]} annotation files, skipped '
          f'{stats["skipped"]} up-to-date ones in {time.time() - start:.1f} '
          f's; split lists: ' + ', '.join(
              f'{k}.txt ({v})' for k, v in stats['splits'].items()))


if __name__ == '__main__':
    main()
