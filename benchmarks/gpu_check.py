"""A short check of every training and inference path on one CUDA GPU.

    python -m benchmarks.gpu_check [--config CONFIG] [--steps 3] [--json OUT]

(from the repository root, in the project's environment with a CUDA build
of torch). It builds the HRFormer-S + OCR Cityscapes config and runs

- training steps on a batch of 2 random 512x1024 crops (one GPU's share of
  the 4x2 recipe; SyncBN acts as BN in a single process): float32, fp16
  autocast with dynamic loss scaling (mmengine's ``AmpOptimWrapper``) and
  bf16 autocast (``BF16AmpOptimWrapper``), each with activation memory
  'full' and 'lean' (float32 'checkpoint' too), the autocast ones also with
  ``memory_format='channels_last'``;
- whole-image inference of one random 1024x2048 image (``test_step``) in
  float32, fp16 and bf16 autocast;

and prints, per path, the median time per step and the peak GPU memory
(``torch.cuda.max_memory_allocated``) next to the 11.54 GB per GPU of the
recipe's reference table. Every step must give finite losses; any error or
non-finite loss makes it exit with status 1 after the table. Meant to take
well under 8 minutes on a current GPU (one warm-up and ``--steps`` timed
steps per path).
"""
import argparse
import json
import statistics
import sys
import time
import traceback
from typing import Any, Dict, List, Optional

import torch

from . import harness

DEFAULT_CONFIG = ('configs/hrformer/'
                  'ocrnet_hrformer-s_4x2_512x1024_80k_cityscapes.py')
TRAIN_SHAPE, TRAIN_BATCH = [512, 1024], 2
INFER_SHAPE = [1024, 2048]
REFERENCE_GB = 11.54  # per GPU, batch 2 at 512x1024, the recipe's table
OPTIM_WRAPPERS = {
    'fp32': {},
    'fp16': dict(type='AmpOptimWrapper', dtype='float16',
                 loss_scale='dynamic'),
    'bf16': dict(type='BF16AmpOptimWrapper', dtype='bfloat16'),
}
# (precision, activation memory, memory format)
TRAIN_PATHS = [
    ('fp32', 'full', 'auto'), ('fp32', 'lean', 'auto'),
    ('fp32', 'checkpoint', 'auto'),
    ('fp16', 'full', 'auto'), ('fp16', 'lean', 'auto'),
    ('fp16', 'full', 'channels_last'),
    ('bf16', 'full', 'auto'), ('bf16', 'lean', 'auto'),
    ('bf16', 'full', 'channels_last'),
]
INFER_PATHS = [('fp32', 'full', 'auto'), ('fp16', 'full', 'auto'),
               ('bf16', 'full', 'auto'), ('bf16', 'full', 'channels_last')]


def _subject(config: str, mode: str, shape: List[int], batch: int,
             memory: str, memory_format: str) -> harness.Subject:
    args = argparse.Namespace(
        config=config, checkpoint=None, mode=mode, shape=shape, batch=batch,
        device='cuda', cfg_options={
            'model.activation_memory': memory,
            'model.memory_format': memory_format})
    return harness.build_ours(args)


def _optim_wrapper(subject: harness.Subject, precision: str) -> Any:
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(subject.info['config'])
    wrapper = dict(cfg.optim_wrapper)
    wrapper.pop('loss_scale', None)
    wrapper.update(OPTIM_WRAPPERS[precision])
    return build_optim_wrapper(subject.model, wrapper)


def run_path(config: str, mode: str, precision: str, memory: str,
             memory_format: str, steps: int) -> Dict[str, Any]:
    """Times one path; raises on an error or a non-finite loss."""
    shape, batch = ((TRAIN_SHAPE, TRAIN_BATCH) if mode == 'train'
                    else (INFER_SHAPE, 1))
    subject = _subject(config, mode, shape, batch, memory, memory_format)
    model = subject.model.cuda()
    data = harness.make_batches(subject, mode, shape, batch)
    if mode == 'train':
        model.train()
        optim_wrapper = _optim_wrapper(subject, precision)

        def step() -> None:
            log_vars = model.train_step(data, optim_wrapper)
            bad = {k: float(v) for k, v in log_vars.items()
                   if not torch.isfinite(torch.as_tensor(v)).all()}
            if bad:
                raise FloatingPointError(f'non-finite loss terms: {bad}')
    else:
        model.eval()
        from hrformer_seg.utils.precision import AUTOCAST_DTYPES
        dtype = AUTOCAST_DTYPES.get(precision)  # fp32: None

        def step() -> None:
            with torch.no_grad(), torch.autocast(
                    'cuda', dtype=dtype, enabled=dtype is not None):
                model.test_step(data)
    step()  # warm-up: cuDNN autotuning, optimizer state, caches
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 1e9
    return dict(time_s=statistics.median(times), peak_gb=peak)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print('gpu_check: no CUDA device; nothing checked', file=sys.stderr)
        return 1
    torch.backends.cudnn.benchmark = True
    gpu = torch.cuda.get_device_name()
    print(f'{gpu}, torch {torch.__version__}, CUDA {torch.version.cuda}, '
          f'config {args.config}', flush=True)
    rows, failed = [], []
    start = time.perf_counter()
    paths = [('train', *p) for p in TRAIN_PATHS] + [
        ('infer', *p) for p in INFER_PATHS]
    for mode, precision, memory, memory_format in paths:
        name = f'{mode} {precision} memory={memory} format={memory_format}'
        try:
            result = run_path(args.config, mode, precision, memory,
                              memory_format, args.steps)
        except Exception:  # report every failing path, then exit 1
            traceback.print_exc()
            failed.append(name)
            result = None
        torch.cuda.empty_cache()  # the path's model and data are gone
        rows.append(dict(mode=mode, precision=precision, memory=memory,
                         memory_format=memory_format, result=result))
        shown = (f"{result['time_s']:.3f} s, {result['peak_gb']:.2f} GB"
                 if result else 'FAILED')
        print(f'{name}: {shown}', flush=True)
    train = 'x'.join(map(str, TRAIN_SHAPE))
    infer = 'x'.join(map(str, INFER_SHAPE))
    print(f'\n{gpu}: one GPU, training {TRAIN_BATCH} x {train}, inference '
          f'1 x {infer}; reference: {REFERENCE_GB} GB per GPU (training)')
    print('| mode | precision | activation memory | memory format | '
          's per step | peak GB |')
    print('|---|---|---|---|---|---|')
    for row in rows:
        r = row['result']
        cells = (f"{r['time_s']:.3f} | {r['peak_gb']:.2f}" if r
                 else 'FAILED | FAILED')
        print(f"| {row['mode']} | {row['precision']} | {row['memory']} | "
              f"{row['memory_format']} | {cells} |")
    print(f'total {time.perf_counter() - start:.0f} s')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(gpu=gpu, torch=torch.__version__, rows=rows), f,
                      indent=1)
    if failed:
        print('FAILED: ' + '; '.join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
