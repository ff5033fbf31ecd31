"""Make the COCO-Stuff-10K tree: images and 171-class label maps.

    python tools/dataset_converters/coco_stuff10k.py \
        COCO_STUFF_10K_DIR data/coco_stuff10k --nproc 8

COCO_STUFF_10K_DIR is the unpacked cocostuff-10k release (``images/``,
``annotations/*.mat``, ``imageLists/``). Writes
``images/{train2014,test2014}`` and
``annotations/{train2014,test2014}/*_labelTrainIds.png`` (needs scipy).
"""
import argparse

from hrformer_seg.datasets.mat_label_convert import convert_coco_stuff10k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('release', help='COCO-Stuff-10K release folder')
    parser.add_argument('out_dir', help='output root')
    parser.add_argument('--nproc', default=1, type=int)
    args = parser.parse_args()
    counts = convert_coco_stuff10k(args.release, args.out_dir, args.nproc)
    print(f'\nimages and label maps written: {counts}')


if __name__ == '__main__':
    main()
