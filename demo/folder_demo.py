"""Segment every image of a folder.

    python demo/folder_demo.py IMG_DIR CONFIG [CKPT] --out-dir OUT
        [--device cpu] [--opacity 0.5] [--save-masks] [--recursive]
        [--ext .png .jpg .jpeg]

For ``IMG_DIR/<rel>/<name>.<ext>`` writes ``OUT/<rel>/<name>.png`` (the
prediction over the image, with a class legend) and with ``--save-masks``
``OUT/masks/<rel>/<name>.png`` (one-channel train-ID map).
"""
import argparse
import os
import os.path as osp
from typing import List

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from hrformer_seg.apis import inference_model, init_model, show_result_pyplot


def list_images(folder: str, exts, recursive: bool) -> List[str]:
    """Image paths under ``folder`` (relative, sorted)."""
    exts = tuple(e.lower() for e in exts)
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(exts):
                found.append(osp.relpath(osp.join(root, name), folder))
        if not recursive:
            break
    return found


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Segment a folder of images')
    parser.add_argument('img_dir', help='folder of images')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (optional)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:0')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the class colours, in [0, 1]')
    parser.add_argument('--save-masks', action='store_true',
                        help='also write the train-ID maps to OUT/masks')
    parser.add_argument('--recursive', action='store_true',
                        help='descend into sub-folders')
    parser.add_argument('--ext', nargs='+', default=['.png', '.jpg', '.jpeg'],
                        help='image file extensions')
    return parser.parse_args(argv)


def main(argv=None) -> List[str]:
    args = parse_args(argv)
    if not osp.isdir(args.img_dir):
        raise FileNotFoundError(f'image folder not found: {args.img_dir}')
    images = list_images(args.img_dir, args.ext, args.recursive)
    if not images:
        raise FileNotFoundError(
            f'no image ({", ".join(args.ext)}) in {args.img_dir}'
            + ('' if args.recursive else ' (use --recursive for sub-folders)'))
    model = init_model(args.config, args.checkpoint, device=args.device)
    written = []
    progress = ProgressBar(len(images))
    for rel in images:
        path = osp.join(args.img_dir, rel)
        result = inference_model(model, path)
        stem = osp.splitext(rel)[0]
        out_file = osp.join(args.out_dir, stem + '.png')
        show_result_pyplot(model, path, result, opacity=args.opacity,
                           draw_gt=False, out_file=out_file)
        written.append(out_file)
        if args.save_masks:
            mask_file = osp.join(args.out_dir, 'masks', stem + '.png')
            os.makedirs(osp.dirname(mask_file), exist_ok=True)
            mask = result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
            cv2.imwrite(mask_file, mask)
        progress.update()
    print(f'\n{len(written)} results written to {args.out_dir}')
    return written


if __name__ == '__main__':
    main()
