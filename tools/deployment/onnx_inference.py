"""Segment an image with an exported ONNX model (onnxruntime, no PyTorch).

    python tools/deployment/onnx_inference.py IMG MODEL.onnx --out mask.png
        [--ids ids.png] [--overlay overlay.png] [--opacity 0.5]

Writes the colour mask (class colours from the model's ``palette``
metadata, else the Cityscapes palette) to ``--out``; ``--ids`` writes the
one-channel train-ID map and ``--overlay`` the mask blended over the image.
A model exported with a fixed input size gets the image resized to it; the
logits are resized back to the image size before the arg-max.
"""
import argparse
import json
import os.path as osp
from typing import List, Optional, Tuple

import cv2
import numpy as np

from hrformer_seg.visualization import cityscapes_metainfo, colorize
from hrformer_seg.visualization.local_visualizer import write_rgb


def load_session(model_file: str):
    """An onnxruntime CPU session and the model's class metadata."""
    import onnxruntime as ort
    if not osp.isfile(model_file):
        raise FileNotFoundError(f'ONNX model not found: {model_file}')
    session = ort.InferenceSession(model_file,
                                   providers=['CPUExecutionProvider'])
    props = session.get_modelmeta().custom_metadata_map
    meta = cityscapes_metainfo()
    if 'classes' in props:
        meta['classes'] = json.loads(props['classes'])
    if 'palette' in props:
        meta['palette'] = json.loads(props['palette'])
    return session, meta


def fixed_input_size(session) -> Optional[Tuple[int, int]]:
    """(H, W) when the model's input size is fixed, else None."""
    shape = session.get_inputs()[0].shape
    height, width = shape[2], shape[3]
    if isinstance(height, int) and isinstance(width, int):
        return height, width
    return None


def predict(session, rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (K, H, W) float32 logits at the image size."""
    height, width = rgb.shape[:2]
    size = fixed_input_size(session)
    image = rgb
    if size is not None and size != (height, width):
        image = cv2.resize(rgb, (size[1], size[0]),
                           interpolation=cv2.INTER_LINEAR)
    batch = image.astype(np.float32).transpose(2, 0, 1)[None]
    name = session.get_inputs()[0].name
    logits = session.run(None, {name: batch})[0][0]
    if logits.shape[1:] != (height, width):
        # cv2.resize works on (H, W, C) with many channels
        logits = cv2.resize(
            np.ascontiguousarray(logits.transpose(1, 2, 0)), (width, height),
            interpolation=cv2.INTER_LINEAR)
        if logits.ndim == 2:
            logits = logits[..., None]
        logits = logits.transpose(2, 0, 1)
    return logits


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Segment an image with an ONNX model')
    parser.add_argument('img', help='image file')
    parser.add_argument('model', help='.onnx file from pytorch2onnx.py')
    parser.add_argument('--out', default='mask.png',
                        help='colour mask output (PNG)')
    parser.add_argument('--ids', default=None,
                        help='also write the train-ID map (PNG)')
    parser.add_argument('--overlay', default=None,
                        help='also write the mask blended over the image')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='mask opacity of --overlay')
    return parser.parse_args(argv)


def main(argv=None) -> np.ndarray:
    args = parse_args(argv)
    if not osp.isfile(args.img):
        raise FileNotFoundError(f'image file not found: {args.img}')
    bgr = cv2.imread(args.img, cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f'could not decode the image {args.img}')
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    session, meta = load_session(args.model)
    ids = predict(session, rgb).argmax(0)
    mask = colorize(ids, [tuple(c) for c in meta['palette']])
    write_rgb(args.out, mask)
    outputs: List[str] = [args.out]
    if args.ids:
        if not cv2.imwrite(args.ids, ids.astype(np.uint8)):
            raise OSError(f'could not write {args.ids}')
        outputs.append(args.ids)
    if args.overlay:
        blended = cv2.addWeighted(rgb, 1 - args.opacity, mask, args.opacity,
                                  0)
        write_rgb(args.overlay, blended)
        outputs.append(args.overlay)
    present = [meta['classes'][i] for i in np.unique(ids)
               if i < len(meta['classes'])]
    print(f'classes found: {", ".join(present)}')
    print('written: ' + ', '.join(outputs))
    return ids


if __name__ == '__main__':
    main()
