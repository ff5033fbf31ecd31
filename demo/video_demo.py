"""Segment a video (or a camera) frame by frame.

    python demo/video_demo.py VIDEO CONFIG [CKPT] --output-file OUT.mp4
        [--device cpu] [--opacity 0.5] [--output-fps FPS]
        [--output-height H --output-width W] [--max-frames N] [--show]

VIDEO is a file readable by OpenCV or a camera index (``0``). The output
video shows the prediction blended over each frame (no legend, so every
frame has the same size), at the input's frame rate unless ``--output-fps``
is given; the codec follows the extension (``.mp4``: mp4v, ``.avi``: XVID).
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from hrformer_seg.apis import inference_model, init_model
from hrformer_seg.visualization import SegLocalVisualizer

FOURCC = {'.mp4': 'mp4v', '.avi': 'XVID', '.mkv': 'XVID', '.mov': 'mp4v'}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Segment a video')
    parser.add_argument('video', help='video file or camera index')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (optional)')
    parser.add_argument('--output-file', help='output video file')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:0')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the class colours, in [0, 1]')
    parser.add_argument('--output-fps', type=float, default=None,
                        help='frame rate of the output (default: the input)')
    parser.add_argument('--output-height', type=int, default=None)
    parser.add_argument('--output-width', type=int, default=None)
    parser.add_argument('--max-frames', type=int, default=-1,
                        help='stop after this many frames (-1: all)')
    parser.add_argument('--show', action='store_true',
                        help='show each frame in a window')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.output_file and not args.show:
        raise ValueError('give --output-file and/or --show')
    source = int(args.video) if args.video.isdigit() else args.video
    if isinstance(source, str) and not osp.isfile(source):
        raise FileNotFoundError(f'video file not found: {source}')
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise OSError(f'OpenCV cannot open the video {args.video}')
    model = init_model(args.config, args.checkpoint, device=args.device)
    meta = model.dataset_meta
    visualizer = SegLocalVisualizer(
        name='video_demo', classes=meta['classes'],
        palette=meta.get('palette'), alpha=args.opacity)

    fps = args.output_fps or capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if args.max_frames >= 0:
        total = min(total, args.max_frames) if total > 0 else args.max_frames
    writer = None
    frames = 0
    progress = ProgressBar(total) if total > 0 else None
    try:
        while args.max_frames < 0 or frames < args.max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            result = inference_model(model, frame)  # frame: BGR
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            drawn = visualizer.draw_sem_seg(rgb, result.pred_sem_seg)
            drawn = cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)
            if args.output_height and args.output_width:
                drawn = cv2.resize(drawn,
                                   (args.output_width, args.output_height))
            if args.output_file:
                if writer is None:
                    ext = osp.splitext(args.output_file)[1].lower()
                    fourcc = cv2.VideoWriter_fourcc(*FOURCC.get(ext, 'mp4v'))
                    out_dir = osp.dirname(osp.abspath(args.output_file))
                    os.makedirs(out_dir, exist_ok=True)
                    writer = cv2.VideoWriter(
                        args.output_file, fourcc, fps,
                        (drawn.shape[1], drawn.shape[0]))
                    if not writer.isOpened():
                        raise OSError(
                            f'OpenCV cannot write the video '
                            f'{args.output_file} (codec for {ext!r})')
                writer.write(np.ascontiguousarray(drawn))
            if args.show:
                cv2.imshow('video_demo', drawn)
                if cv2.waitKey(1) & 0xFF == ord('q'):
                    break
            frames += 1
            if progress is not None and frames <= total:
                progress.update()
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        if args.show:
            cv2.destroyAllWindows()
    if frames == 0:
        raise OSError(f'no frame could be read from {args.video}')
    print(f'\n{frames} frames'
          + (f' written to {args.output_file}' if args.output_file else ''))
    return frames


if __name__ == '__main__':
    main()
