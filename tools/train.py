"""Train a segmentor: ``python tools/train.py CONFIG [options]``.

The command line of MMSegmentation's tools/train.py, so habits carry over.
"""
import argparse
import os

from mmengine.config import Config
from mmengine.logging import print_log

import hrformer_seg  # noqa: F401  (registers everything)
from hrformer_seg.engine.checkpoint import checkpoints_in, latest_checkpoint
from hrformer_seg.utils.checkpoint import CheckpointError
from hrformer_seg.utils.config_errors import config_error_context
from hrformer_seg.utils.tool_setup import (
    add_amp_arg,
    add_cfg_options,
    add_launcher_args,
    build_runner,
    load_tool_config,
    resolve_tool_amp,
    set_local_rank,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a path, from the '
        'latest checkpoint in the work dir')
    add_amp_arg(parser)
    add_cfg_options(parser, 'train_dataloader.batch_size=4 '
                    'model.activation_memory=checkpoint')
    add_launcher_args(parser)
    args = parser.parse_args()
    set_local_rank(args)
    return args


def setup_cfg(args: argparse.Namespace) -> Config:
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    precision = resolve_tool_amp(args.amp, 'training')
    if precision == 'fp16':  # CUDA: mmengine's fp16 autocast + loss scaling
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    elif precision == 'bf16':
        cfg.optim_wrapper.type = 'BF16AmpOptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        if cfg.get('val_cfg') is not None:  # validation under autocast too
            cfg.val_cfg = dict(cfg.val_cfg, fp16=True)
    if args.resume == 'auto':
        # the checkpoint named by work_dir/last_checkpoint, also when the
        # work dir was moved; none: train from the start
        cfg.load_from = latest_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
        if not cfg.resume:
            print_log(f'No checkpoint recorded in {cfg.work_dir}/'
                      'last_checkpoint: training from the start.',
                      logger='current')
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def _with_resume_hint(exc: CheckpointError, filename: str) -> CheckpointError:
    """``exc`` (about the file to resume from) naming the newest other
    checkpoint next to it."""
    others = checkpoints_in(os.path.dirname(os.path.abspath(filename)),
                            exclude=os.path.abspath(filename))
    hint = (f' The newest other checkpoint there is {others[0]} (not '
            f'checked): resume from it with --resume {others[0]}'
            if others else '')
    return type(exc)(f'resuming failed: {exc}.{hint}')


def main() -> None:
    args = parse_args()
    cfg = setup_cfg(args)
    runner = build_runner(cfg, args.config)
    with config_error_context(args.config):
        try:
            runner.train()
        except CheckpointError as exc:
            if cfg.resume and str(cfg.load_from) in str(exc):
                raise _with_resume_hint(exc, cfg.load_from) from exc
            raise


if __name__ == '__main__':
    main()
