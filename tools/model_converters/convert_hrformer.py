"""Convert an official HRFormer checkpoint (github HRNet/HRFormer).

    # ImageNet backbone weights (``init_cfg`` of the backbone)
    python tools/model_converters/convert_hrformer.py hrt_small.pth \
        pretrained/hrformer_small_imagenet.pth [--window-size 7]
    # a trained segmentation model (HRFormer + OCR, seg/ of the repository)
    python tools/model_converters/convert_hrformer.py \
        hrt_small_ocr_cityscapes.pth checkpoints/hrformer-s_cityscapes.pth

The source is read with the safe loader (``weights_only=True``); its kind
is told by its keys. Backbone weights are converted by
:func:`hrformer_seg.models.utils.convert_official_hrformer`, segmentation
models by :func:`~hrformer_seg.models.utils.convert_official_ocrnet` (for
``load_from``, ``init_model`` and ``tools/test.py``). The result is written
as ``{'state_dict': ...}``, all or nothing.
"""
import argparse

from hrformer_seg.engine import atomic_save
from hrformer_seg.models.utils import (
    convert_official_hrformer,
    convert_official_ocrnet,
    describe_official_ocrnet,
    is_official_hrformer,
    is_official_ocrnet,
)
from hrformer_seg.utils.checkpoint import (
    DICT_LIKE_GLOBALS,
    CheckpointError,
    load_state_dict_file,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert official HRFormer weights to hrformer_seg keys')
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output file')
    parser.add_argument(
        '--window-size',
        type=int,
        default=None,
        help='resize the relative position bias tables to this window '
        '(default: keep the checkpoint\'s window)')
    parser.add_argument(
        '--dict-like',
        nargs='*',
        default=list(DICT_LIKE_GLOBALS),
        metavar='GLOBAL',
        help='dict subclasses stored in the file (e.g. configs) to read as '
        'plain dicts; default: %(default)s')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    state_dict = load_state_dict_file(
        args.src, dict_like_globals=args.dict_like)
    try:
        if is_official_ocrnet(state_dict):
            converted = convert_official_ocrnet(
                state_dict, window_size=args.window_size)
            kind = 'HRFormer + OCR model ({arch}, window {window_size}, ' \
                '{num_classes} classes)'.format(
                    **describe_official_ocrnet(converted))
        elif is_official_hrformer(state_dict):
            converted = convert_official_hrformer(
                state_dict, window_size=args.window_size)
            kind = 'HRFormer backbone'
        else:
            raise KeyError(f'unexpected entry {next(iter(state_dict))}: '
                           'neither an official HRFormer backbone nor an '
                           'official HRFormer + OCR segmentation model')
    except KeyError as exc:
        raise CheckpointError(f'{args.src}: {exc.args[0]}') from None
    atomic_save({'state_dict': converted}, args.dst)
    print(f'{args.src}: official {kind}, {len(state_dict)} entries -> '
          f'{len(converted)}, saved to {args.dst}')


if __name__ == '__main__':
    main()
