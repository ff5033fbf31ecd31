"""Evaluate a checkpoint: ``python tools/test.py CONFIG CKPT [options]``.

The command line of MMSegmentation's tools/test.py. ``--tta`` evaluates with
the multi-scale + flip pipeline of the config (``tta_pipeline``).
"""
import argparse
import os.path as osp

from mmengine.config import Config, ConfigDict

import hrformer_seg  # noqa: F401  (registers everything)
from hrformer_seg.utils.config_errors import config_error_context
from hrformer_seg.utils.tool_setup import (
    add_amp_arg,
    add_cfg_options,
    add_launcher_args,
    amp_device_type,
    build_runner,
    load_tool_config,
    resolve_tool_amp,
    set_local_rank,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation metrics and logs')
    parser.add_argument(
        '--out',
        type=str,
        help='write the predicted train-ID maps as PNG files into this dir')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='write pictures of the predictions next to the ground truth '
        'into this dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='multi-scale + flip test')
    parser.add_argument(
        '--fuse-conv-bn',
        action='store_true',
        help='fold BN layers into the convolutions before them (faster, '
        'same results up to float rounding)')
    add_amp_arg(parser)
    add_cfg_options(parser)
    add_launcher_args(parser)
    args = parser.parse_args()
    set_local_rank(args)
    return args


def trigger_visualization_hook(cfg: Config,
                               args: argparse.Namespace) -> Config:
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError(
            '--show / --show-dir need a `visualization` hook in '
            f'default_hooks of {args.config}, e.g. '
            "dict(type='SegVisualizationHook')")
    vis = hooks.visualization
    vis.draw = True
    vis.interval = 1
    if args.show:
        vis.show = True
        vis.wait_time = args.wait_time
    if args.show_dir:
        cfg.visualizer.save_dir = args.show_dir
        cfg.visualizer.vis_backends = [
            dict(type='LocalVisBackend', save_dir=args.show_dir)]
    return cfg


def setup_cfg(args: argparse.Namespace) -> Config:
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
            raise KeyError(f'--tta needs `tta_pipeline` and `tta_model` in '
                           f'{args.config}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    precision = resolve_tool_amp(args.amp, 'testing')
    if precision == 'bf16' and amp_device_type() == 'cuda':
        raise ValueError('--amp bf16: on CUDA, testing under autocast is '
                         "float16 (mmengine's TestLoop); use --amp")
    if precision is not None:
        # mmengine's TestLoop runs the model under its autocast: bfloat16 on
        # a CPU, float16 on CUDA (--tta included)
        cfg.test_cfg = dict(cfg.get('test_cfg') or dict(type='TestLoop'),
                            fp16=True)
    if args.fuse_conv_bn:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='FoldBatchNormHook')]
    if args.out is not None:
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, (dict, ConfigDict)):
            evaluators = [evaluators]
        for evaluator in evaluators:
            evaluator['output_dir'] = args.out
    return cfg


def main() -> None:
    args = parse_args()
    cfg = setup_cfg(args)
    runner = build_runner(cfg, args.config)
    with config_error_context(args.config):
        runner.test()


if __name__ == '__main__':
    main()
