"""Segment one image and write a picture of the result.

    python demo/image_demo.py IMG CONFIG [CKPT] --out-file OUT.png
        [--device cpu] [--opacity 0.5] [--no-legend] [--mask-file MASK.png]

Without CKPT the model keeps its random initialisation (useful only to try
the pipeline). ``--mask-file`` also writes the predicted train-ID map as a
one-channel PNG.
"""
import argparse
import os.path as osp

import cv2
import numpy as np

from hrformer_seg.apis import inference_model, init_model, show_result_pyplot


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Segment one image')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (optional)')
    parser.add_argument('--out-file', default='result.png',
                        help='picture of the prediction over the image')
    parser.add_argument('--mask-file', default=None,
                        help='also write the train-ID map to this PNG')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:0')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the class colours, in [0, 1]')
    parser.add_argument('--no-legend', action='store_true',
                        help='no class legend under the picture')
    parser.add_argument('--show', action='store_true',
                        help='also show the picture in a window')
    return parser.parse_args(argv)


def main(argv=None) -> np.ndarray:
    args = parse_args(argv)
    if not osp.isfile(args.img):
        raise FileNotFoundError(f'image file not found: {args.img}')
    model = init_model(args.config, args.checkpoint, device=args.device)
    result = inference_model(model, args.img)
    drawn = show_result_pyplot(
        model, args.img, result, opacity=args.opacity, draw_gt=False,
        show=args.show, out_file=args.out_file,
        with_labels=not args.no_legend, title=osp.basename(args.img))
    if args.mask_file:
        mask = result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
        if not cv2.imwrite(args.mask_file, mask):
            raise OSError(f'could not write {args.mask_file}')
    print(f'result written to {args.out_file}')
    return drawn


if __name__ == '__main__':
    main()
