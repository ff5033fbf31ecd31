"""Make PASCAL-Context 59-class label maps and split lists.

    python tools/dataset_converters/pascal_context.py \
        data/VOCdevkit/VOC2010 PASCAL_CONTEXT_DIR --nproc 8

PASCAL_CONTEXT_DIR is the unpacked PASCAL-Context release (``trainval/``
with one ``.mat`` file per image, ``labels.txt``). Writes
``SegmentationClassContext/*.png`` and
``ImageSets/SegmentationContext/{train,val}.txt`` into VOC2010 (needs scipy).
"""
import argparse

from hrformer_seg.datasets.mat_label_convert import convert_pascal_context


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('voc2010', help='VOCdevkit/VOC2010 folder')
    parser.add_argument('release', help='PASCAL-Context release folder')
    parser.add_argument('--nproc', default=1, type=int)
    args = parser.parse_args()
    counts = convert_pascal_context(args.voc2010, args.release, args.nproc)
    print(f'\nlabel maps written: {counts}')


if __name__ == '__main__':
    main()
