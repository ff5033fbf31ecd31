"""Time, peak memory and achieved GFLOP/s of a segmentor.

The measuring code behind ``tools/analysis_tools/benchmark.py`` (our model,
from a config) and ``python -m benchmarks.peer_model`` (the peer); both
share this command line::

    --mode infer|train|tta --shape H W [--batch B] [--repeat N]
    [--warmup K] [--threads T] [--fresh-process] [--json OUT]
    [--infer-api predict|tensor] [--fuse-conv-bn] [--no-flops]
    [--profile ROWS]

Modes (all on random images of ``--shape``, batch ``--batch``):

- ``infer``: whole-image inference. ``--infer-api predict`` (default) times
  ``model.test_step`` as ``tools/test.py`` runs it: normalisation, network,
  logits resized to the image size, arg-max. ``--infer-api tensor`` times
  only ``model(inputs, mode='tensor')`` on an already normalised batch.
- ``tta``: multi-scale + flip test of one image: the views of the config's
  ``tta_pipeline`` (``Resize`` scale factors x ``RandomFlip``), each predicted
  and mapped back to the image, softmax probabilities averaged by the
  config's ``tta_model`` (``SegTTAModel``). Time is per image (all views).
- ``train``: one training step, ``model.train_step`` with the config's
  ``optim_wrapper``: normalisation/padding, forward with losses, backward,
  optimizer step (AdamW in the HRFormer configs). Random labels.
  ``model.data_preprocessor.size`` is set to ``--shape`` so the crop size is
  the measured one.

Every measurement runs in a fresh subprocess (the command line spawns
itself with ``--worker-out``): peak memory is the peak of a process that did
nothing else (see :mod:`benchmarks.machine` for what it is on a CPU and a
GPU). It is the peak of the timed iterations: the window is reset after the
warm-up. Where the reset is not possible the peak includes the warm-up, and
the output says so. By default one subprocess runs ``--warmup`` untimed and
``--repeat`` timed iterations; ``--fresh-process`` runs every timed
iteration in its own subprocess (each with its warm-up), so the spread
includes process-to-process variation and the peak memory is measured
``--repeat`` times.

FLOPs are counted by :func:`benchmarks.flops.count_flops` (GFLOP, 2 per
multiply-add; convolutions, matrix products, attention; forward and, in
``train``, backward as executed) in one more untimed iteration after the
timed ones and the memory reading (its dispatch mode changes what autograd
keeps), at the measured shape and on the executed path. The achieved rate
(counted FLOPs / median time) is compared with the fp32 matrix-multiply rate
the same subprocess measures before and after the run. Recorded too: the
load averages and the cores other processes kept busy while the timed
iterations ran.

SyncBN becomes BN without CUDA (``adapt_cfg_to_device``). This module
imports no ``hrformer_seg`` at module level (only :func:`build_ours` does):
the peer's environment, where hrformer_seg is not installed, runs it too.
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .flops import UNIT, count_flops
from .machine import (
    MATMUL_SIZE,
    cpu_seconds,
    current_rss_mb,
    matmul_rate,
    other_cores_busy,
    peak_memory_mb,
    reset_peak_memory,
    sync,
)

MODES = ('infer', 'train', 'tta')
DEFAULT_SHAPES = {'infer': (1024, 2048), 'tta': (1024, 2048),
                  'train': (512, 1024)}


@dataclass
class Subject:
    """A model to measure, with what the modes need from its toolbox.

    Attributes:
        name: shown in the table ('ours', 'peer').
        model: the segmentor (mmengine ``BaseModel`` with ``test_step``,
            ``train_step`` and ``forward(inputs, data_samples, mode)``).
        sample_cls: its toolbox's ``SegDataSample`` class.
        num_classes: number of classes (for random labels).
        build_optim_wrapper: model -> mmengine ``OptimWrapper`` (train).
        build_tta_model: segmentor -> TTA wrapper with ``test_step`` (tta).
        tta_views: (scale factor, horizontal flip) of every TTA view.
        info: extra facts for the report (config, settings).
    """
    name: str
    model: nn.Module
    sample_cls: type
    num_classes: int
    build_optim_wrapper: Optional[Callable[[nn.Module], Any]] = None
    build_tta_model: Optional[Callable[[nn.Module], nn.Module]] = None
    tta_views: List[Tuple[float, bool]] = field(default_factory=list)
    info: Dict[str, Any] = field(default_factory=dict)


#: Builds the subject in the worker from the parsed command line.
Builder = Callable[[argparse.Namespace], Subject]


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
def build_parser(with_config: bool = True,
                 description: str = 'Benchmark a segmentor',
                 extra_args: Optional[Callable[[argparse.ArgumentParser],
                                               None]] = None
                 ) -> argparse.ArgumentParser:
    """The command line shared by our benchmark tool and the peer's.

    Args:
        with_config: add ``config``, ``checkpoint`` and ``--cfg-options``
            (our model).
        description: the parser's description.
        extra_args: adds more arguments to the parser.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(description=description)
    if extra_args is not None:
        extra_args(parser)
    if with_config:
        parser.add_argument('config', help='config file')
        parser.add_argument(
            'checkpoint', nargs='?', default=None,
            help='checkpoint to load (weights do not change the speed)')
        from mmengine.config import DictAction
        parser.add_argument(
            '--cfg-options', nargs='+', action=DictAction, default={},
            help='override settings of the config, key=value')
    parser.add_argument('--mode', choices=MODES, default='infer')
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'), default=None,
        help='image size (default 1024 2048 for infer/tta, 512 1024 for '
        'train); for tta the original image, the views are rescaled')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument(
        '--repeat', type=int, default=3, help='timed iterations')
    parser.add_argument(
        '--warmup', type=int, default=1,
        help='untimed iterations before timing (>= 1)')
    parser.add_argument(
        '--threads', type=int, default=None,
        help='torch.set_num_threads (default: torch\'s choice)')
    parser.add_argument(
        '--infer-api', choices=('predict', 'tensor'), default='predict',
        help="infer mode: model.test_step (default) or model(x, "
        "mode='tensor') on a normalised batch")
    parser.add_argument(
        '--amp', action='store_true',
        help='bf16 autocast (CPU; fp16 on CUDA) around the forward pass: '
        'test_step / the forward of train_step (the backward and the '
        'optimizer step run outside it, as mmengine runs them)')
    parser.add_argument(
        '--fuse-conv-bn', action='store_true',
        help='infer/tta: fold BN layers into the convolutions before them '
        "(mmcv's fuse_conv_bn, as tools/test.py --fuse-conv-bn)")
    parser.add_argument(
        '--fresh-process', action='store_true',
        help='run every timed iteration in its own subprocess')
    parser.add_argument(
        '--no-flops', action='store_true', help='do not count FLOPs')
    parser.add_argument(
        '--profile', type=int, default=0, metavar='ROWS',
        help='after timing, profile one iteration with torch.profiler and '
        'print the top ROWS operators by self CPU time')
    parser.add_argument('--device', default=None,
                        help='cuda if available, else cpu')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument('--worker-out', default=None,
                        help=argparse.SUPPRESS)
    return parser


def check_args(args: argparse.Namespace) -> None:
    """Fills in the default shape; exits on impossible values."""
    if args.shape is None:
        args.shape = list(DEFAULT_SHAPES[args.mode])
    if min(args.shape) < 1 or args.batch < 1 or args.repeat < 1:
        raise SystemExit('--shape, --batch and --repeat must be positive')
    if args.warmup < 1:
        raise SystemExit('--warmup must be >= 1 (the first iteration '
                         'builds caches and optimizer state)')
    if args.mode == 'tta' and args.batch != 1:
        raise SystemExit('--mode tta measures one image: use --batch 1')


# --------------------------------------------------------------------------
# our model, from a config
# --------------------------------------------------------------------------
def tta_views_from_cfg(cfg: Any) -> List[Tuple[float, bool]]:
    """(scale factor, flip) of every view of the config's ``tta_pipeline``.

    Reads the ``TestTimeAug`` step: its ``Resize`` group (``scale_factor``)
    times its ``RandomFlip`` group (flip when ``prob`` >= 1). Without a
    ``tta_pipeline`` the config's ``img_ratios`` with and without flip.
    """
    factors: List[float] = []
    flips: List[bool] = []
    for step in cfg.get('tta_pipeline', []):
        if step.get('type') != 'TestTimeAug':
            continue
        for group in step['transforms']:
            types = {t.get('type') for t in group}
            if types == {'Resize'}:
                for t in group:
                    if 'scale_factor' not in t:
                        raise SystemExit(
                            'benchmark: tta_pipeline Resize without '
                            'scale_factor is not supported')
                    factors.append(float(t['scale_factor']))
            elif types == {'RandomFlip'}:
                flips.extend(float(t.get('prob', 0)) >= 1 for t in group)
    if not factors:
        factors = [float(r) for r in cfg.get('img_ratios', [1.0])]
    if not flips:
        flips = [False, True]
    return [(f, flip) for f in factors for flip in flips]


def build_ours(args: argparse.Namespace) -> Subject:
    """Our segmentor from ``args.config`` (SyncBN -> BN without CUDA)."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    import hrformer_seg  # noqa: F401  (registers everything)
    from hrformer_seg.registry import MODELS
    from hrformer_seg.structures import SegDataSample
    from hrformer_seg.utils.device import adapt_cfg_to_device
    from hrformer_seg.utils.malloc import apply_env_cfg

    if not osp.isfile(args.config):
        raise SystemExit(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    notes = adapt_cfg_to_device(cfg) if args.device != 'cuda' else []
    # glibc's mmap threshold, as the training tool sets it
    malloc_warning = apply_env_cfg(cfg.get('env_cfg', {}))
    if malloc_warning:
        notes.append(malloc_warning)
    init_default_scope(cfg.get('default_scope', 'hrformer_seg'))
    # no pretrained weights: they are not needed for timing and may be absent
    if isinstance(cfg.model.get('backbone'), dict):
        cfg.model.backbone.init_cfg = None
    if args.mode == 'train' and isinstance(
            cfg.model.get('data_preprocessor'), dict):
        cfg.model.data_preprocessor.size = tuple(args.shape)
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    decode = cfg.model.get('decode_head', {})
    heads = list(decode.values()) if 'type' not in decode else [decode]
    num_classes = int(heads[-1].get('num_classes', 19)) if heads else 19

    def optim_wrapper(m: nn.Module) -> Any:
        return build_optim_wrapper(m, cfg.optim_wrapper)

    def tta_model(m: nn.Module) -> nn.Module:
        tta_cfg = dict(cfg.get('tta_model', dict(type='SegTTAModel')))
        tta_cfg['module'] = m
        return MODELS.build(tta_cfg)

    return Subject(
        name='ours',
        model=model,
        sample_cls=SegDataSample,
        num_classes=num_classes,
        build_optim_wrapper=optim_wrapper,
        build_tta_model=tta_model,
        tta_views=tta_views_from_cfg(cfg),
        info=dict(config=args.config, cfg_options=dict(args.cfg_options),
                  device_notes=notes))


# --------------------------------------------------------------------------
# one iteration
# --------------------------------------------------------------------------
def _random_image(shape: Sequence[int], generator: torch.Generator
                  ) -> torch.Tensor:
    """(3, H, W) uint8 image, as ``PackSegInputs`` gives it."""
    return torch.randint(0, 256, (3, *shape), dtype=torch.uint8,
                         generator=generator)


def _view_shape(shape: Sequence[int], factor: float) -> Tuple[int, int]:
    """Image size after mmcv's ``Resize(scale_factor=f, keep_ratio=True)``."""
    return tuple(int(s * factor + 0.5) for s in shape)


def make_batches(subject: Subject, mode: str, shape: Sequence[int],
                 batch: int) -> Dict[str, list]:
    """The data one iteration consumes, made before timing.

    Args:
        subject: the model (its data sample class, classes, TTA views).
        mode: 'infer', 'train' or 'tta'.
        shape: (H, W) of the images.
        batch: images per batch (tta: one image, its views).

    Returns:
        ``dict(inputs, data_samples)`` as a data loader gives it: (3, H, W)
        uint8 images (tta: a list of one-image lists, one per view).
    """
    gen = torch.Generator().manual_seed(0)
    height, width = shape
    if mode == 'tta':
        image = _random_image(shape, gen)
        inputs, samples = [], []
        for factor, flip in subject.tta_views:
            h, w = _view_shape(shape, factor)
            view = nn.functional.interpolate(
                image[None].float(), size=(h, w), mode='bilinear',
                align_corners=False)[0].round().clamp(0, 255).byte()
            if flip:
                view = view.flip(-1)
            meta = dict(img_path='benchmark.png',
                        ori_shape=(height, width), img_shape=(h, w),
                        pad_shape=(h, w), scale_factor=(w / width, h / height),
                        keep_ratio=True, flip=flip,
                        flip_direction='horizontal' if flip else None)
            inputs.append([view])
            samples.append([subject.sample_cls(metainfo=meta)])
        return dict(inputs=inputs, data_samples=samples)
    from mmengine.structures import PixelData
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(_random_image(shape, gen))
        meta = dict(ori_shape=(height, width), img_shape=(height, width),
                    pad_shape=(height, width), scale_factor=(1.0, 1.0),
                    flip=False, flip_direction=None)
        sample = subject.sample_cls(metainfo=meta)
        if mode == 'train':
            label = torch.randint(0, subject.num_classes, (1, height, width),
                                  generator=gen)
            sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def autocast_context(device: torch.device, enabled: bool) -> Any:
    """``torch.autocast`` of ``--amp``: bf16 on a CPU, fp16 on CUDA."""
    dtype = torch.bfloat16 if device.type == 'cpu' else torch.float16
    return torch.autocast(device.type, dtype=dtype, enabled=enabled)


def _with_autocast(optim_wrapper: Any, device: torch.device) -> None:
    """Runs ``optim_wrapper.optim_context`` (the forward of mmengine's
    ``train_step``) under :func:`autocast_context` as well."""
    plain = optim_wrapper.optim_context

    @contextlib.contextmanager
    def optim_context(model: nn.Module) -> Any:
        with plain(model), autocast_context(device, True):
            yield

    optim_wrapper.optim_context = optim_context


def make_step(subject: Subject, args: argparse.Namespace,
              device: torch.device) -> Callable[[], Any]:
    """A function running one iteration of ``args.mode``."""
    model = subject.model.to(device)
    data = make_batches(subject, args.mode, args.shape, args.batch)
    amp = getattr(args, 'amp', False)
    if args.mode == 'train':
        model.train()
        optim_wrapper = subject.build_optim_wrapper(model)
        if amp:
            _with_autocast(optim_wrapper, device)

        def train_step() -> Any:
            return model.train_step(data, optim_wrapper)
        return train_step
    model.eval()
    if args.fuse_conv_bn:
        from mmcv.cnn import fuse_conv_bn
        fuse_conv_bn(model)
    if args.mode == 'tta':
        tta = subject.build_tta_model(model).to(device).eval()

        def tta_step() -> Any:
            with torch.no_grad(), autocast_context(device, amp):
                return tta.test_step(data)
        return tta_step
    if args.infer_api == 'tensor':
        with torch.no_grad():
            inputs = model.data_preprocessor(data, False)['inputs']

        def tensor_step() -> Any:
            with torch.no_grad(), autocast_context(device, amp):
                return model(inputs, mode='tensor')
        return tensor_step

    def predict_step() -> Any:
        with torch.no_grad(), autocast_context(device, amp):
            return model.test_step(data)
    return predict_step


def profile_table(step: Callable[[], Any], rows: int,
                  model: Optional[nn.Module] = None, depth: int = 2) -> str:
    """torch.profiler on one ``step``: the top ``rows`` operators by self
    CPU time, and the forward time of the model's modules down to ``depth``
    (labelled '## name'; the backward is not attributed to modules)."""
    from torch.profiler import ProfilerActivity, profile, record_function
    handles, open_labels = [], {}
    if model is not None:
        for name, module in model.named_modules():
            if not name or name.count('.') >= depth:
                continue

            def pre(mod: nn.Module, inputs: Any, name: str = name) -> None:
                label = record_function(f'## {name}')
                label.__enter__()
                open_labels.setdefault(name, []).append(label)

            def post(mod: nn.Module, inputs: Any, output: Any,
                     name: str = name) -> None:
                open_labels[name].pop().__exit__(None, None, None)

            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post))
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
    finally:
        for handle in handles:
            handle.remove()
    averages = prof.key_averages()
    modules = sorted((e for e in averages if e.key.startswith('## ')),
                     key=lambda e: e.key)
    lines = ['forward time by module (ms, CPU total incl. children):']
    lines += [f'  {e.key[3:]:<40} {e.cpu_time_total / 1e3:10.1f}'
              f'  x{e.count}' for e in modules]
    table = averages.table(sort_by='self_cpu_time_total', row_limit=rows)
    return '\n'.join(lines) + '\n' + table


# --------------------------------------------------------------------------
# measuring (inside the worker subprocess)
# --------------------------------------------------------------------------
def worker(subject: Subject, args: argparse.Namespace) -> Dict[str, Any]:
    """One measurement in this (fresh) process; the result as a dict.

    Times and memory in seconds and MiB; ``flops_per_iter`` and
    ``flops_per_module`` (the model's children and grandchildren, named as
    by :func:`benchmarks.flops.count_flops`) in FLOPs, 2 per multiply-add.
    """
    device = torch.device(args.device)
    load_before = os.getloadavg()
    mm_rates = matmul_rate(device)
    num_params = sum(p.numel() for p in subject.model.parameters())
    step = make_step(subject, args, device)
    rss_built = current_rss_mb()
    for _ in range(args.warmup):
        step()
    sync(device)
    peak_reset = reset_peak_memory(device)
    times = []
    cpu_start = cpu_seconds()
    for _ in range(args.repeat):
        sync(device)
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    other_cores = other_cores_busy(cpu_start, cpu_seconds())
    peak_mb, peak_kind = peak_memory_mb(device)
    peak_kind += (', timed iterations' if peak_reset
                  else ', whole process incl. warm-up')
    # one more, untimed iteration under the FLOP counter, after the memory
    # reading: its dispatch mode changes what autograd keeps
    flops, flops_per_module = 0, {}
    if not args.no_flops:
        flops, per_module = count_flops(step)
        flops_per_module = {name: n for name, n in per_module.items()
                            if name.count('.') in (1, 2)}
    mm_rates += matmul_rate(device)
    result = dict(
        name=subject.name, mode=args.mode, shape=list(args.shape),
        amp=bool(getattr(args, 'amp', False)),
        batch=args.batch, infer_api=args.infer_api,
        device=str(device), threads=torch.get_num_threads(),
        torch=torch.__version__, num_params=num_params,
        iter_times=times, warmup=args.warmup,
        flops_per_iter=flops, flops_per_module=flops_per_module,
        peak_memory_mb=peak_mb, peak_memory_kind=peak_kind,
        rss_after_build_mb=rss_built, matmul_gflops=mm_rates,
        loadavg_before=list(load_before), loadavg_after=list(os.getloadavg()),
        other_cores_busy=other_cores,
        info=subject.info)
    if args.mode == 'tta':
        result['tta_views'] = [list(v) for v in subject.tta_views]
    if args.profile:
        result['profile'] = profile_table(step, args.profile, subject.model)
    return result


# --------------------------------------------------------------------------
# parent: spawn the workers, aggregate, print
# --------------------------------------------------------------------------
def _strip_options(argv: List[str], names: Sequence[str],
                   with_value: Sequence[str]) -> List[str]:
    """``argv`` without the flags ``names`` and the options ``with_value``
    (``--opt value`` or ``--opt=value``)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        key = item.split('=', 1)[0]
        if key in with_value:
            skip = '=' not in item
            continue
        if key in names:
            continue
        out.append(item)
    return out


def run_workers(command: Sequence[str], argv: List[str],
                args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Runs the measurement(s) of ``args`` in fresh subprocesses.

    Args:
        command: starts the same command line in a new process, e.g.
            ``[python, script]`` or ``[python, '-m', module]``; the worker
            arguments are appended.
        argv: the command line's arguments.
        args: them parsed.

    Returns:
        The workers' results (:func:`worker`).
    """
    base = _strip_options(argv, ['--fresh-process'], ['--json'])
    runs = ([['--repeat', '1']] * args.repeat if args.fresh_process
            else [[]])
    results = []
    with tempfile.TemporaryDirectory(prefix='benchmark_') as tmp:
        for i, extra in enumerate(runs):
            out = osp.join(tmp, f'run{i}.json')
            cmd = [*command, *base, *extra, '--worker-out', out]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0 or not osp.isfile(out):
                sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
                raise SystemExit(
                    f'benchmark worker failed (exit {proc.returncode}): '
                    + ' '.join(cmd))
            with open(out) as f:
                results.append(json.load(f))
    return results


def _spread(values: Sequence[float]) -> Dict[str, float]:
    """Median, min, max, count (and the IQR from 4 values on)."""
    values = sorted(values)
    out = dict(median=statistics.median(values), min=values[0],
               max=values[-1], n=len(values))
    if len(values) >= 4:
        q = statistics.quantiles(values, n=4)
        out['iqr'] = q[2] - q[0]
    return out


def summarize(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Medians and spreads over the workers of one measurement.

    Units: seconds, MiB, GFLOP (2 per multiply-add) and GFLOP/s.
    """
    first = runs[0]
    per_image = [t / first['batch'] for r in runs for t in r['iter_times']]
    flops = max(r['flops_per_iter'] for r in runs)
    flops_image = flops / first['batch']
    time_stats = _spread(per_image)
    mm = _spread([v for r in runs for v in r['matmul_gflops']])
    summary = dict(
        name=first['name'], mode=first['mode'], shape=first['shape'],
        batch=first['batch'], infer_api=first['infer_api'],
        device=first['device'], threads=first['threads'],
        num_params=first['num_params'],
        time_per_image_s=time_stats,
        peak_memory_mb=_spread([r['peak_memory_mb'] for r in runs]),
        peak_memory_kind=first['peak_memory_kind'],
        rss_after_build_mb=_spread([r['rss_after_build_mb'] for r in runs]),
        gflop_per_image=flops_image / 1e9,
        gflop_per_image_per_module={
            k: v / first['batch'] / 1e9
            for k, v in first['flops_per_module'].items()},
        achieved_gflops=(flops_image / 1e9 / time_stats['median']
                         if flops else 0.0),
        matmul_gflops=mm,
        loadavg=[r['loadavg_before'] + r['loadavg_after'] for r in runs],
        other_cores_busy=[r['other_cores_busy'] for r in runs],
        runs=runs)
    summary['utilisation'] = (summary['achieved_gflops'] / mm['median']
                              if mm['median'] else 0.0)
    return summary


def top_modules(per_module: Dict[str, float]) -> List[Tuple[str, float]]:
    """The model's children with their counts, without the model's name.

    Containers without a forward of their own (an ``nn.ModuleList`` of
    decode heads) are not tracked, so their items stand in for them.
    """
    names = {k.split('.', 1)[1]: v for k, v in per_module.items()
             if '.' in k}
    return [(k, v) for k, v in names.items()
            if '.' not in k or k.split('.', 1)[0] not in names]


def module_breakdown(per_module: Dict[str, float],
                     total: float) -> List[Tuple[str, float]]:
    """:func:`top_modules` plus 'untracked': work FlopCounterMode could not
    put in a module (a module run through ``module.forward(...)`` instead of
    ``module(...)`` skips the hooks it tracks modules with)."""
    parts = top_modules(per_module)
    rest = total - sum(v for _, v in parts)
    if rest > 0.005 * total:
        parts.append(('untracked', rest))
    return parts


def format_table(summary: Dict[str, Any]) -> str:
    """A readable table of one measurement."""
    s = summary
    h, w = s['shape']
    views = len(s['runs'][0].get('tta_views', []))
    what = {'infer': f"inference ({s['infer_api']}, whole)",
            'tta': f'ms+flip inference ({views} views)',
            'train': 'training step (fwd + bwd + optimizer)'}[s['mode']]
    t, m, mm = s['time_per_image_s'], s['peak_memory_mb'], s['matmul_gflops']
    loads = ' '.join('/'.join(f'{x:.1f}' for x in (load[0], load[3]))
                     for load in s['loadavg'])
    lines = [
        f"{s['name']}: {what}, input {s['batch']}x3x{h}x{w}, "
        f"{s['device']}, {s['threads']} threads, "
        f"{s['num_params']:,} parameters",
        f"load average (1 min) before/after each run: {loads}; cores "
        "busy with other processes while timing: " + ' '.join(
            f'{x:.2f}' for x in s['other_cores_busy']),
        '| metric | median | min | max | n |',
        '|---|---|---|---|---|',
        f"| time per image (s) | {t['median']:.3f} | {t['min']:.3f} | "
        f"{t['max']:.3f} | {t['n']} |",
        f"| peak memory (MiB, {s['peak_memory_kind']}) | {m['median']:.0f} |"
        f" {m['min']:.0f} | {m['max']:.0f} | {m['n']} |",
        f"| fp32 matmul GFLOP/s ({MATMUL_SIZE}^2) | {mm['median']:.1f} | "
        f"{mm['min']:.1f} | {mm['max']:.1f} | {mm['n']} |",
    ]
    if s['gflop_per_image']:
        lines += [
            f"| counted {UNIT} per image | {s['gflop_per_image']:.1f} "
            '| | | |',
            f"| achieved GFLOP/s | {s['achieved_gflops']:.1f} | | | |",
            f"| achieved / matmul rate | {100 * s['utilisation']:.0f}% "
            '| | | |',
        ]
        parts = ', '.join(f'{k} {v:.1f}' for k, v in module_breakdown(
            s['gflop_per_image_per_module'], s['gflop_per_image']))
        # FlopCounterMode's attribution of backward work overlaps
        if parts and s['mode'] != 'train':
            lines.append(f'GFLOP per image by module: {parts}')
    if 'iqr' in t:
        lines.append(f"time IQR: {t['iqr']:.3f} s")
    return '\n'.join(lines)


def main(command: Sequence[str],
         argv: Optional[List[str]] = None,
         builder: Builder = build_ours,
         with_config: bool = True,
         description: str = 'Benchmark a segmentor',
         extra_args: Optional[Callable[[argparse.ArgumentParser],
                                       None]] = None) -> Dict[str, Any]:
    """Parent: spawns the workers and prints; worker: measures.

    Args:
        command: starts this command line in a new process (see
            :func:`run_workers`).
        argv: the arguments (default ``sys.argv[1:]``).
        builder: makes the subject in the worker (default: ours, from the
            config; ``benchmarks/peer_model.py`` passes the peer's).
        with_config: the command line takes a config (ours).
        description: shown by ``--help``.
        extra_args: adds the builder's own arguments.

    Returns:
        The summary (parent) or the worker's result (worker).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(with_config, description,
                        extra_args).parse_args(argv)
    check_args(args)
    if args.device is None:
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.worker_out:
        if args.threads:
            torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        result = worker(builder(args), args)
        with open(args.worker_out, 'w') as f:
            json.dump(result, f)
        return result
    runs = run_workers(command, argv, args)
    summary = summarize(runs)
    print(format_table(summary))
    for run in runs:
        if 'profile' in run:
            print(run['profile'])
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(summary, f, indent=1)
    return summary
