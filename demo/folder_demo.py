"""Segment every image of a folder with SegInferencer.

    python demo/folder_demo.py IMG_DIR MODEL [CKPT] --out-dir OUT
        [--device cpu] [--batch-size 1] [--opacity 0.5] [--amp]

MODEL is a config file or a model bundle folder
(tools/model_converters/publish_model.py; it brings its weights). For each
``IMG_DIR/NAME.<ext>`` writes ``OUT/vis/NAME.png`` (the prediction over the
image, with a class legend) and ``OUT/pred/NAME.png`` (one-channel class
indices).
"""
import argparse
import os.path as osp
from typing import List

from hrformer_seg.apis import SegInferencer


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Segment a folder of images')
    parser.add_argument('img_dir', help='folder of images')
    parser.add_argument('model', help='config file or model bundle folder')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (a bundle brings its own)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda, cuda:0 (default: cuda if present)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the class colours, in [0, 1]')
    parser.add_argument('--amp', action='store_true',
                        help='bf16/fp16 autocast where the device has it')
    return parser.parse_args(argv)


def main(argv=None) -> List[str]:
    args = parse_args(argv)
    if not osp.isdir(args.img_dir):
        raise FileNotFoundError(f'image folder not found: {args.img_dir}')
    inferencer = SegInferencer(args.model, args.checkpoint,
                               device=args.device, amp=args.amp)
    result = inferencer(args.img_dir, batch_size=args.batch_size,
                        out_dir=args.out_dir, opacity=args.opacity)
    written = [osp.join(args.out_dir, 'vis', name + '.png')
               for name in inferencer.names]
    print(f'\n{len(result["predictions"])} images segmented: pictures in '
          f'{osp.join(args.out_dir, "vis")}, class-index maps in '
          f'{osp.join(args.out_dir, "pred")}')
    return written


if __name__ == '__main__':
    main()
