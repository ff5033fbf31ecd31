"""Convert an official HRFormer checkpoint (github HRNet/HRFormer).

    python tools/model_converters/convert_hrformer.py hrt_small.pth \
        pretrained/hrformer_small_imagenet.pth [--window-size 7]

The source is read with the safe loader (``weights_only=True``), the weights
converted by :func:`hrformer_seg.models.utils.convert_official_hrformer` and
written as ``{'state_dict': ...}``, usable as the backbone's
``init_cfg=dict(type='Pretrained', checkpoint=DST)``.
"""
import argparse
import os
import os.path as osp
import tempfile

import torch

from hrformer_seg.models.utils import convert_official_hrformer
from hrformer_seg.utils.checkpoint import (
    DICT_LIKE_GLOBALS,
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
    converted = convert_official_hrformer(
        state_dict, window_size=args.window_size)
    dst_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(dst_dir, exist_ok=True)
    # write next to the target and rename: no half-written file on a crash
    fd, tmp = tempfile.mkstemp(dir=dst_dir, suffix='.tmp')
    os.close(fd)
    try:
        torch.save({'state_dict': converted}, tmp)
        os.replace(tmp, args.dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    dropped = len(state_dict) - len(converted)
    print(f'{args.src}: {len(state_dict)} entries -> {len(converted)} '
          f'({dropped} merged or dropped), saved to {args.dst}')


if __name__ == '__main__':
    main()
