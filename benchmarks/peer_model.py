"""The peer for speed comparisons: mmpose's HRFormer-S + MMSegmentation's OCR.

Runs in the peer environment made by ``benchmarks/setup_peer_env.sh``
(mmpose 1.3.2, MMSegmentation 1.2.2, mmcv-lite 2.1.0, torch 2.13.0), never in
ours. It builds

- backbone: mmpose 1.3.2 ``HRFormer`` with the HRFormer-S settings of
  mmpose's ``td-hm_hrformer-small`` config (stage channels 32/64/128/256,
  heads 1/2/4/8, window 7, MLP ratio 4, 1/4/2 modules in stages 2-4, two
  blocks per branch, relative position bias), BN, drop path 0.2 (the
  Cityscapes value), and all four branches out (``multiscale_output``);
  fusion upsampling ``--upsample nearest`` (default: as ours and the
  official segmentation code on sizes divisible by 32) or ``bilinear``
  (mmpose's HRFormer default);
- MMSegmentation 1.2.2 ``CascadeEncoderDecoder``: ``FCNHead`` (the four
  branches resized and concatenated, one 3x3 conv to 512 + BN + ReLU, no
  input concat, loss weight 0.4) then ``OCRHead`` (512 channels, 256 OCR
  key channels, loss weight 1.0), 19 classes, no dropout, OHEM (0.9,
  100000) on both heads, whole-image test, ``SegDataPreProcessor`` with the
  ImageNet mean/std, ``SegTTAModel`` for ms+flip;
- AdamW lr 1e-4, betas (0.9, 0.999), weight decay 0.01 without decay on
  norms, biases and relative position bias tables (the recipe of our
  config).

and measures it with the same code as ``tools/analysis_tools/benchmark.py``
(:mod:`benchmarks.harness`, same command line, minus the config), from the
repository root:

    benchmarks/.venv-peer/bin/python -m benchmarks.peer_model \\
        --mode infer --shape 1024 2048 --repeat 3

``--check`` builds the model, prints its parameter count and runs a tiny
forward (used by setup_peer_env.sh).

mmcv-lite has no compiled ops and MMSegmentation/mmpose import some of them
(``point_sample``, deformable convolutions...) at import time although this
model never calls them: without ``mmcv._ext``, ``mmcv.ops`` is replaced by a
module whose every name raises when used.
"""
import argparse
import importlib.util
import sys
import types
from typing import Any

# our measuring code; it imports no hrformer_seg
from . import harness

NUM_CLASSES = 19
# multi-scale + flip test: the scales of docs/training_recipe.md (as our
# Cityscapes config)
TTA_RATIOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def stub_mmcv_ops() -> bool:
    """Lets ``from mmcv.ops import X`` succeed without compiled mmcv ops.

    Returns:
        True if the stub was installed (``mmcv._ext`` is missing).
    """
    if importlib.util.find_spec('mmcv._ext') is not None:
        return False

    def missing(name: str) -> type:
        if name.startswith('__'):
            raise AttributeError(name)

        def fail(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError(
                f'mmcv.ops.{name} needs the compiled mmcv; the benchmark '
                'peer does not use it')
        return type(name, (), {'__init__': fail, '__call__': fail})

    ops = types.ModuleType('mmcv.ops')
    ops.__path__ = []
    ops.__getattr__ = missing  # module-level __getattr__ (PEP 562)
    import mmcv
    sys.modules['mmcv.ops'] = ops
    mmcv.ops = ops
    return True


def hrformer_small_extra(drop_path_rate: float, upsample: str) -> dict:
    """mmpose's ``extra`` dict for HRFormer-S with all branches out."""
    def stage(modules: int, channels: tuple, heads: tuple) -> dict:
        n = len(channels)
        return dict(num_modules=modules, num_branches=n,
                    block='HRFORMERBLOCK', num_blocks=(2, ) * n,
                    num_channels=channels, num_heads=heads,
                    mlp_ratios=(4, ) * n, window_sizes=(7, ) * n)

    extra = dict(
        drop_path_rate=drop_path_rate,
        with_rpe=True,
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                    num_blocks=(2, ), num_channels=(64, )),
        stage2=stage(1, (32, 64), (1, 2)),
        stage3=stage(4, (32, 64, 128), (1, 2, 4)),
        stage4=dict(stage(2, (32, 64, 128, 256), (1, 2, 4, 8)),
                    multiscale_output=True),
        upsample=dict(mode=upsample,
                      align_corners=False if upsample == 'bilinear'
                      else None))
    return extra


def peer_model_cfg(train_size: Any, upsample: str, ohem: bool) -> dict:
    norm_cfg = dict(type='BN', requires_grad=True)
    sampler = (dict(type='OHEMPixelSampler', thresh=0.9, min_kept=100000)
               if ohem else None)
    heads = []
    for head in (
            dict(type='FCNHead', channels=512, num_convs=1, kernel_size=3,
                 concat_input=False, loss_weight=0.4),
            dict(type='OCRHead', channels=512, ocr_channels=256,
                 loss_weight=1.0)):
        loss_weight = head.pop('loss_weight')
        head.update(
            in_channels=[32, 64, 128, 256], in_index=(0, 1, 2, 3),
            input_transform='resize_concat', dropout_ratio=-1,
            num_classes=NUM_CLASSES, norm_cfg=norm_cfg, align_corners=False,
            sampler=sampler,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=loss_weight))
        heads.append(head)
    return dict(
        type='CascadeEncoderDecoder',
        num_stages=2,
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
            seg_pad_val=255, size=train_size),
        backbone=dict(
            type='mmpose.HRFormer', in_channels=3, norm_cfg=norm_cfg,
            extra=hrformer_small_extra(0.2, upsample), init_cfg=None),
        decode_head=heads,
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


OPTIM_WRAPPER = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.01),
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0,
        custom_keys=dict(relative_position_bias_table=dict(decay_mult=0.0))))


def build_peer(args: argparse.Namespace) -> harness.Subject:
    """The peer segmentor as a benchmark subject."""
    stubbed = stub_mmcv_ops()
    import mmpose
    import mmpose.models  # noqa: F401  (registers mmpose.HRFormer)
    import mmseg
    from mmengine.config import ConfigDict
    from mmengine.optim import build_optim_wrapper
    from mmseg.models import SegTTAModel
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules

    register_all_modules(init_default_scope=True)
    train_size = tuple(args.shape) if args.mode == 'train' else None
    # a ConfigDict, as from a config file: MMSegmentation reads
    # test_cfg.mode as an attribute
    model = MODELS.build(ConfigDict(
        peer_model_cfg(train_size, args.upsample, not args.no_ohem)))
    return harness.Subject(
        name='peer',
        model=model,
        sample_cls=SegDataSample,
        num_classes=NUM_CLASSES,
        build_optim_wrapper=lambda m: build_optim_wrapper(m, OPTIM_WRAPPER),
        build_tta_model=lambda m: SegTTAModel(module=m),
        tta_views=[(r, flip) for r in TTA_RATIOS for flip in (False, True)],
        info=dict(mmseg=mmseg.__version__, mmpose=mmpose.__version__,
                  upsample=args.upsample, ohem=not args.no_ohem,
                  mmcv_ops_stubbed=stubbed))


def peer_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--upsample', choices=('nearest', 'bilinear'), default='nearest',
        help='fusion upsampling in the backbone (default nearest, as ours; '
        'mmpose HRFormer default: bilinear)')
    parser.add_argument('--no-ohem', action='store_true',
                        help='plain cross-entropy instead of OHEM')
    parser.add_argument(
        '--check', action='store_true',
        help='build, print the parameter count, run a tiny forward, exit')


def check() -> None:
    import torch
    args = argparse.Namespace(mode='infer', shape=[64, 128],
                              upsample='nearest', no_ohem=False)
    subject = build_peer(args)
    model = subject.model.eval()
    num_params = sum(p.numel() for p in model.parameters())
    backbone = sum(p.numel() for p in model.backbone.parameters())
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 128), mode='tensor')
    print(f'peer: {num_params:,} parameters (backbone {backbone:,}); '
          f'tensor output {tuple(out.shape)}')


if __name__ == '__main__':
    if '--check' in sys.argv[1:]:
        check()
    else:
        harness.main([sys.executable, '-m', 'benchmarks.peer_model'],
                     builder=build_peer, with_config=False,
                     description='Benchmark the peer (mmpose HRFormer-S + '
                     'MMSegmentation OCR)',
                     extra_args=peer_args)
