"""Write what the model is fed: pipeline outputs with their labels drawn on.

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir DIR
        [--split train|val|test] [--max-samples 20] [--show]
        [--show-interval 2] [--cfg-options k=v ...]

Each sample of ``<split>_dataloader.dataset`` goes through its pipeline
(random resize, crop, flip, photometric distortion for ``train``), and the
packed image is written with its label map blended over it and a legend of
the classes present: ``DIR/<image stem>.png`` (``<stem>_<i>.png`` when a
stem repeats).
"""
import argparse
import os
import os.path as osp

import numpy as np
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

from hrformer_seg.registry import DATASETS
from hrformer_seg.utils.tool_setup import add_cfg_options, load_config
from hrformer_seg.visualization import SegLocalVisualizer


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw augmented dataset samples with their labels')
    parser.add_argument('config', help='config file')
    parser.add_argument('--output-dir', required=True,
                        help='directory for the pictures')
    parser.add_argument('--split', default='train',
                        choices=['train', 'val', 'test'],
                        help='which dataloader\'s dataset to browse')
    parser.add_argument('--max-samples', type=int, default=20,
                        help='number of samples to draw (-1: all)')
    parser.add_argument('--show', action='store_true',
                        help='also show each picture in a window')
    parser.add_argument('--show-interval', type=float, default=2,
                        help='seconds a shown picture stays')
    parser.add_argument('--alpha', type=float, default=0.5,
                        help='opacity of the label colours')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'hrformer_seg'))
    key = f'{args.split}_dataloader'
    if key not in cfg or 'dataset' not in cfg[key]:
        raise KeyError(f'{args.config} has no {key}.dataset')
    dataset = DATASETS.build(cfg[key].dataset)
    meta = dataset.metainfo
    visualizer = SegLocalVisualizer(
        name='browse_dataset', classes=meta.get('classes'),
        palette=meta.get('palette'), alpha=args.alpha)
    count = len(dataset) if args.max_samples < 0 else min(
        args.max_samples, len(dataset))
    os.makedirs(args.output_dir, exist_ok=True)
    written, seen = [], set()
    progress = ProgressBar(count)
    for index in range(count):
        item = dataset[index]
        sample = item['data_samples']
        # packed inputs: (3, H, W) in the loader's BGR order
        image = item['inputs'].numpy().transpose(1, 2, 0)[..., ::-1]
        image = np.ascontiguousarray(image).astype(np.uint8)
        img_path = sample.metainfo.get('img_path') or f'sample{index}'
        stem = osp.splitext(osp.basename(img_path))[0]
        name = stem if stem not in seen else f'{stem}_{index}'
        seen.add(name)
        out_file = osp.join(args.output_dir, name + '.png')
        visualizer.add_datasample(
            name, image, sample, draw_pred=False, show=args.show,
            wait_time=args.show_interval, out_file=out_file)
        written.append(out_file)
        progress.update()
    print(f'\n{len(written)} pictures written to {args.output_dir}')
    return written


if __name__ == '__main__':
    main()
