"""Time, peak memory and achieved GFLOP/s of a segmentor.

    python tools/analysis_tools/benchmark.py CONFIG [CKPT]
        --mode infer|train|tta --shape H W [--batch B] [--repeat N]
        [--warmup K] [--threads T] [--fresh-process] [--json OUT]
        [--infer-api predict|tensor] [--profile ROWS] [--cfg-options k=v ...]

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

Every measurement runs in a fresh subprocess (this script spawns itself):
peak memory is the peak of a process that did nothing else, CUDA's
``max_memory_allocated`` on a GPU, the peak resident set size (VmHWM, or
``getrusage(RUSAGE_SELF).ru_maxrss`` off Linux: model, activations,
optimizer state, allocator slack, the interpreter and libraries) on a CPU.
It is the peak of the timed iterations: the window is reset after the
warm-up (``/proc/self/clear_refs`` on Linux, ``reset_peak_memory_stats`` on
CUDA; on a CPU with glibc, after ``malloc_trim`` hands the memory freed so
far back to the OS). Where the reset is not possible the peak includes the
warm-up, and the output says so. By default one subprocess runs
``--warmup`` untimed and ``--repeat`` timed iterations; ``--fresh-process``
runs every timed iteration in its own subprocess (each with its warm-up),
so the spread includes process-to-process variation and the peak memory is
measured ``--repeat`` times.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` in one more
untimed iteration after the timed ones and the memory reading (its dispatch
mode changes what autograd keeps), at the measured shape and on the executed path:
convolutions, matrix products (linear layers, attention) and fused
attention (torch's CPU flash kernel and the groups of a convolution's
weight gradient with our own formulas), 2 FLOPs per multiply-add, forward and (in ``train``) backward as
executed; element-wise work (norms, activations, softmax, resizing, the
optimizer update) is not counted. The achieved rate (counted FLOPs / median
time) is compared with the fp32 matrix-multiply rate the same subprocess
measures before and after the run (``torch.mm`` of two 2048 x 2048
matrices, median): numbers from two runs are comparable only through it,
and a low matmul rate shows a machine busy with something else. Recorded
too: the load averages and the cores other processes kept busy while the
timed iterations ran (/proc/stat minus this process's CPU time).

SyncBN becomes BN without CUDA (``adapt_cfg_to_device``). This file imports
no ``hrformer_seg`` at module level: ``benchmarks/peer_model.py`` reuses its
measuring code, with its own model, in another environment.
"""
import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

MODES = ('infer', 'train', 'tta')
DEFAULT_SHAPES = {'infer': (1024, 2048), 'tta': (1024, 2048),
                  'train': (512, 1024)}
MATMUL_SIZE = 2048
MATMUL_REPEAT = 5


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


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
def build_parser(with_config: bool = True,
                 description: str = 'Benchmark a segmentor',
                 extra_args: Optional[Callable[[argparse.ArgumentParser],
                                               None]] = None
                 ) -> argparse.ArgumentParser:
    """The command line shared by this tool and benchmarks/peer_model.py."""
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
    # glibc's mmap threshold, as SegRunner.setup_env sets it for the tools
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
# measuring (inside the worker subprocess)
# --------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def matmul_rate(device: torch.device, size: int = MATMUL_SIZE,
                repeat: int = MATMUL_REPEAT) -> List[float]:
    """GFLOP/s of fp32 ``torch.mm`` of two size x size matrices, per run."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    torch.mm(a, b)
    rates = []
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return rates


def _cpu_seconds() -> Tuple[float, float, float]:
    """(machine busy CPU seconds, this process's CPU seconds, wall time).

    The machine's from /proc/stat (all cores; NaN where unavailable)."""
    busy = float('nan')
    try:
        with open('/proc/stat') as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf(
            'SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        pass
    own = os.times()
    return busy, own.user + own.system, time.perf_counter()


def other_cores_busy(start: Tuple[float, float, float],
                     end: Tuple[float, float, float]) -> float:
    """Cores kept busy by other processes between two ``_cpu_seconds``."""
    wall = end[2] - start[2]
    others = (end[0] - start[0]) - (end[1] - start[1])
    return max(others, 0.0) / wall if wall > 0 else float('nan')


def current_rss_mb() -> float:
    """Resident set size now (MiB), from /proc (0 where unavailable)."""
    try:
        with open('/proc/self/statm') as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf('SC_PAGE_SIZE') / 2**20
    except (OSError, ValueError):
        return 0.0


def reset_peak_memory(device: torch.device) -> bool:
    """Start a new peak-memory window; False where the OS cannot (the peak
    then stays the process's lifetime peak).

    On a CPU with glibc, the heap memory freed so far is first handed back to
    the OS (``malloc_trim``): glibc keeps freed memory resident, and the
    window would otherwise start at the warm-up's peak."""
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        return True
    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    try:  # Linux: "5" resets the resident set's high-water mark (VmHWM)
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _vm_hwm_mb() -> Optional[float]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError):
        pass
    return None


def peak_memory_mb(device: torch.device) -> Tuple[float, str]:
    """Peak memory (MiB) since :func:`reset_peak_memory` (or since the
    process started) and what it is."""
    if device.type == 'cuda':
        return (torch.cuda.max_memory_allocated(device) / 2**20,
                'cuda max_memory_allocated')
    hwm = _vm_hwm_mb()
    if hwm is not None:
        return hwm, 'peak RSS (VmHWM)'
    # ru_maxrss: KiB on Linux, bytes on macOS
    scale = 1 if sys.platform == 'darwin' else 1024
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
            / 2**20, 'peak RSS (ru_maxrss)')


def _random_image(shape: Sequence[int], generator: torch.Generator
                  ) -> torch.Tensor:
    """(3, H, W) uint8 image, as ``PackSegInputs`` gives it."""
    return torch.randint(0, 256, (3, *shape), dtype=torch.uint8,
                         generator=generator)


def _view_shape(shape: Sequence[int], factor: float) -> Tuple[int, int]:
    """Image size after mmcv's ``Resize(scale_factor=f, keep_ratio=True)``."""
    return tuple(int(s * factor + 0.5) for s in shape)


def make_batches(subject: Subject, mode: str, shape: Sequence[int],
                 batch: int) -> Any:
    """The data one iteration consumes, made before timing."""
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


def make_step(subject: Subject, args: argparse.Namespace,
              device: torch.device) -> Callable[[], Any]:
    """A function running one iteration of ``args.mode``."""
    model = subject.model.to(device)
    data = make_batches(subject, args.mode, args.shape, args.batch)
    if args.mode == 'train':
        model.train()
        optim_wrapper = subject.build_optim_wrapper(model)

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
            with torch.no_grad():
                return tta.test_step(data)
        return tta_step
    if args.infer_api == 'tensor':
        with torch.no_grad():
            inputs = model.data_preprocessor(data, False)['inputs']

        def tensor_step() -> Any:
            with torch.no_grad():
                return model(inputs, mode='tensor')
        return tensor_step

    def predict_step() -> Any:
        with torch.no_grad():
            return model.test_step(data)
    return predict_step


def _direct_conv_flops(batch: int, spatial: Sequence[int],
                       w_shape: Sequence[int]) -> int:
    """2 x batch x spatial size x prod(weight shape): a direct convolution
    over ``spatial`` positions; the weight shape (C_out, C_in / groups,
    k...) already accounts for groups."""
    flops = 2 * batch
    for size in (*spatial, *w_shape):
        flops *= size
    return flops


def conv_backward_flops(grad_out_shape: Sequence[int],
                        x_shape: Sequence[int], w_shape: Sequence[int],
                        *args: Any, out_shape: Any = None,
                        **kwargs: Any) -> int:
    """FLOPs of ``aten.convolution_backward`` (shapes in, as FlopCounterMode
    passes them).

    Each requested gradient (input, weight; ``output_mask`` is the last
    positional argument) costs as much as the forward convolution:
    2 x batch x spatial size x prod(weight shape), the spatial size being the
    output's for a convolution and the input's for a transposed one; the
    weight shape (C_out, C_in / groups, k...) already accounts for groups.
    torch's own formula ignores groups for the weight gradient and counts a
    depthwise convolution's weight gradient ``groups`` times too high.
    """
    transposed, output_mask = args[4], args[-1]
    spatial = (x_shape if transposed else grad_out_shape)[2:]
    forward = _direct_conv_flops(x_shape[0], spatial, w_shape)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


def nnpack_conv_flops(x_shape: Sequence[int], w_shape: Sequence[int],
                      *args: Any, out_shape: Sequence[int] = (),
                      **kwargs: Any) -> int:
    """``aten._nnpack_spatial_convolution`` (WinogradConv2d's kernel, which
    FlopCounterMode does not know): the direct convolution's FLOPs,
    2 x batch x output size x prod(weight shape). Winograd's transform
    needs fewer multiplications, so its rate in these units can exceed the
    matrix-multiply rate."""
    return _direct_conv_flops(x_shape[0], out_shape[2:], w_shape)


def _attention_products(query_shape: Sequence[int], key_shape: Sequence[int],
                        value_shape: Sequence[int]) -> int:
    """FLOPs of ``softmax(q k^T) v`` without the softmax.

    q (..., L, E), k (..., S, E), v (..., S, Ev): ``q k^T`` is L x S dot
    products of length E, ``p v`` L x Ev of length S; 2 FLOPs each step.
    """
    batch = 1
    for size in query_shape[:-2]:
        batch *= size
    length, embed = query_shape[-2:]
    source, value_embed = key_shape[-2], value_shape[-1]
    return 2 * batch * length * source * (embed + value_embed)


def cpu_attention_flops(query_shape: Sequence[int], key_shape: Sequence[int],
                        value_shape: Sequence[int], *args: Any,
                        out_shape: Any = None, **kwargs: Any) -> int:
    """``aten._scaled_dot_product_flash_attention_for_cpu`` (which torch's
    FlopCounterMode does not know): its two matrix products."""
    return _attention_products(query_shape, key_shape, value_shape)


def cpu_attention_backward_flops(grad_out_shape: Sequence[int],
                                 query_shape: Sequence[int],
                                 key_shape: Sequence[int],
                                 value_shape: Sequence[int], *args: Any,
                                 out_shape: Any = None,
                                 **kwargs: Any) -> int:
    """Its backward: both operands' gradients of both products, twice the
    forward (the recomputation of the attention weights is not counted)."""
    return 2 * _attention_products(query_shape, key_shape, value_shape)


def flop_formulas() -> Dict[Any, Callable[..., int]]:
    """Our formulas on top of FlopCounterMode's (see the functions)."""
    aten = torch.ops.aten
    formulas = {aten.convolution_backward: conv_backward_flops,
                aten._nnpack_spatial_convolution: nnpack_conv_flops}
    for name, formula in (
            ('_scaled_dot_product_flash_attention_for_cpu',
             cpu_attention_flops),
            ('_scaled_dot_product_flash_attention_for_cpu_backward',
             cpu_attention_backward_flops)):
        if hasattr(aten, name):
            formulas[getattr(aten, name)] = formula
    return formulas


def count_flops(step: Callable[[], Any]) -> Tuple[int, Dict[str, int]]:
    """Runs ``step`` once under FlopCounterMode; total and per-module FLOPs.

    The per-module totals are those of the model's children (the module
    names FlopCounterMode reports, e.g. 'CascadeEncoderDecoder.backbone').
    They add up to the total for a forward; FlopCounterMode's attribution of
    backward work to modules is approximate (the parts overlap), so in
    training only the total is exact.
    """
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(
        display=False, depth=3,
        custom_mapping=flop_formulas())
    with counter:
        step()
    per_module = {}
    for name, ops in counter.get_flop_counts().items():
        if name.count('.') in (1, 2):
            per_module[name] = int(sum(ops.values()))
    return int(counter.get_total_flops()), per_module


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


def worker(subject: Subject, args: argparse.Namespace) -> Dict[str, Any]:
    """One measurement in this (fresh) process; the result as a dict."""
    device = torch.device(args.device)
    load_before = os.getloadavg()
    mm_rates = matmul_rate(device)
    num_params = sum(p.numel() for p in subject.model.parameters())
    step = make_step(subject, args, device)
    rss_built = current_rss_mb()
    for _ in range(args.warmup):
        step()
    _sync(device)
    peak_reset = reset_peak_memory(device)
    times = []
    cpu_start = _cpu_seconds()
    for _ in range(args.repeat):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    other_cores = other_cores_busy(cpu_start, _cpu_seconds())
    peak_mb, peak_kind = peak_memory_mb(device)
    peak_kind += (', timed iterations' if peak_reset
                  else ', whole process incl. warm-up')
    # one more, untimed iteration under the FLOP counter, after the memory
    # reading: its dispatch mode changes what autograd keeps
    flops, flops_per_module = 0, {}
    if not args.no_flops:
        flops, flops_per_module = count_flops(step)
    mm_rates += matmul_rate(device)
    result = dict(
        name=subject.name, mode=args.mode, shape=list(args.shape),
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


def run_workers(script: str, argv: List[str], args: argparse.Namespace,
                python: str = sys.executable) -> List[Dict[str, Any]]:
    """Runs the measurement(s) of ``args`` in fresh subprocesses."""
    base = _strip_options(argv, ['--fresh-process'], ['--json'])
    runs = ([['--repeat', '1']] * args.repeat if args.fresh_process
            else [[]])
    results = []
    with tempfile.TemporaryDirectory(prefix='benchmark_') as tmp:
        for i, extra in enumerate(runs):
            out = osp.join(tmp, f'run{i}.json')
            cmd = [python, script, *base, *extra, '--worker-out', out]
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
    values = sorted(values)
    out = dict(median=statistics.median(values), min=values[0],
               max=values[-1], n=len(values))
    if len(values) >= 4:
        q = statistics.quantiles(values, n=4)
        out['iqr'] = q[2] - q[0]
    return out


def summarize(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Medians and spreads over the workers of one measurement."""
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
    what = {'infer': f"inference ({s['infer_api']}, whole)",
            'tta': f"ms+flip inference ({len(s['runs'][0].get('tta_views', []))} views)",
            'train': 'training step (fwd + bwd + optimizer)'}[s['mode']]
    t, m, mm = s['time_per_image_s'], s['peak_memory_mb'], s['matmul_gflops']
    loads = ' '.join('/'.join(f'{x:.1f}' for x in (l[0], l[3]))
                     for l in s['loadavg'])
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
            f"| counted GFLOP per image | {s['gflop_per_image']:.1f} | | | |",
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


def main(argv: Optional[List[str]] = None,
         builder: Callable[[argparse.Namespace], Subject] = build_ours,
         with_config: bool = True,
         script: Optional[str] = None,
         description: str = 'Benchmark a segmentor',
         extra_args: Optional[Callable[[argparse.ArgumentParser],
                                       None]] = None) -> Dict[str, Any]:
    """Parent: spawns the workers and prints; worker: measures.

    ``benchmarks/peer_model.py`` calls this with its own ``builder``.
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
    runs = run_workers(script or osp.abspath(__file__), argv, args)
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


if __name__ == '__main__':
    main()
