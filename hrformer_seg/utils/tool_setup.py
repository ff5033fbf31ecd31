"""What the tools share: loading a config and building a runner."""
import argparse
import datetime
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from hrformer_seg.engine import register_safe_local_loader
from hrformer_seg.registry import RUNNERS
from hrformer_seg.utils.class_count import ClassCountError, resolve_num_classes
from hrformer_seg.utils.config_errors import (
    ConfigBuildError,
    config_error_context,
)
from hrformer_seg.utils.device import adapt_cfg_to_device
from hrformer_seg.utils.malloc import apply_env_cfg
from hrformer_seg.utils.precision import (
    AMP_CHOICES,
    cpu_summary,
    resolve_amp,
)


def add_cfg_options(parser: argparse.ArgumentParser,
                    example: str = '') -> None:
    """Adds the tools' ``--cfg-options key=value ...``."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value' + (
            f' (e.g. {example})' if example else ''))


def add_amp_arg(parser: argparse.ArgumentParser) -> None:
    """Adds ``--amp [auto|bf16|fp16]`` (:func:`resolve_amp`)."""
    parser.add_argument(
        '--amp', nargs='?', const='auto', default=None, choices=AMP_CHOICES,
        help='mixed precision: bf16 autocast on a CPU with native bf16 '
        '(AVX512-BF16/AMX; float32 elsewhere unless --amp bf16), fp16 with '
        'loss scaling on CUDA')


def amp_device_type() -> str:
    """Where the tools run the model: 'cuda' when available, else 'cpu'."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def resolve_tool_amp(choice: Optional[str], doing: str) -> Optional[str]:
    """:func:`resolve_amp` of a tool's ``--amp`` on :func:`amp_device_type`;
    with ``--amp`` given, logs e.g. ``--amp: training in bf16 on cpu (...)``.
    """
    where = amp_device_type()
    precision = resolve_amp(choice, where)
    if choice is not None:
        print_log(f'--amp: {doing} in {precision or "float32"} on {where}'
                  + (f' ({cpu_summary()})' if where == 'cpu' else ''),
                  logger='current')
    return precision


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """Adds ``--launcher`` and the ``--local-rank`` that
    ``torch.distributed.launch`` passes (torchrun sets ``LOCAL_RANK``)."""
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def set_local_rank(args: argparse.Namespace) -> None:
    """``LOCAL_RANK`` from ``--local-rank`` unless the launcher set it."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))


def load_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """Loads ``config`` and applies ``--cfg-options`` (every tool's start);
    the ``num_classes`` are filled from the classes and checked
    (:func:`~hrformer_seg.utils.class_count.resolve_num_classes`).

    Raises:
        FileNotFoundError: naming ``config`` when it does not exist.
        ConfigBuildError: the class counts disagree (naming the file).
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_class_count(cfg, config)
    return cfg


def check_class_count(cfg: Config, config_path: str) -> None:
    """:func:`resolve_num_classes` with the config file in its error."""
    try:
        resolve_num_classes(cfg)
    except ClassCountError as exc:
        raise ConfigBuildError(
            f'{exc}\n  -> check the config file {config_path}') from None


def load_tool_config(config: str,
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None,
                     launcher: str = 'none') -> Config:
    """Loads ``config``, applies ``--cfg-options`` and sets the work dir.

    The work dir defaults to ``./work_dirs/<config name>`` (as in MMSeg).

    Raises:
        FileNotFoundError: naming ``config`` when it does not exist.
    """
    cfg = load_config(config)
    cfg.launcher = launcher  # before the overrides, as in MMSegmentation
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
        check_class_count(cfg, config)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


def _elastic_attempt_store(rank: int, world_size: int,
                           timeout: datetime.timedelta) -> torch_dist.Store:
    """The torchrun store, namespaced by restart attempt.

    torchrun keeps one TCP store server for all restart attempts, and the
    workers' default process group keys are the same in every attempt: after
    a restart, gloo reads the addresses of the killed processes and fails
    ("Connection refused") or waits forever. A prefix per attempt
    (``TORCHELASTIC_RESTART_COUNT``) keeps the attempts apart.
    """
    agent_store = os.environ.get('TORCHELASTIC_USE_AGENT_STORE') == 'True'
    store = torch_dist.TCPStore(
        host_name=os.environ['MASTER_ADDR'],
        port=int(os.environ['MASTER_PORT']),
        world_size=world_size,
        is_master=not agent_store and rank == 0,
        timeout=timeout,
        multi_tenant=True)
    attempt = os.environ['TORCHELASTIC_RESTART_COUNT']
    return torch_dist.PrefixStore(f'hrformer_seg/attempt_{attempt}', store)


def init_distributed(cfg: Config) -> None:
    """Creates the process group where mmengine's ``init_dist`` cannot.

    For the ``pytorch`` launcher without CUDA (mmengine calls
    ``torch.cuda.set_device``, which a CPU build of torch lacks) or under
    torchrun (to isolate restarts, see :func:`_elastic_attempt_store`); the
    runner then finds the group initialised. Without CUDA, models are
    wrapped in DDP without ``device_ids``, which DDP refuses on CPU.
    """
    cuda = torch.cuda.is_available()
    if cfg.get('launcher') != 'pytorch' or torch_dist.is_initialized():
        return
    if not cuda:
        cfg.setdefault('model_wrapper_cfg', dict(
            type='MMDistributedDataParallel', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False)))
        cfg.model_wrapper_cfg.setdefault('device_ids', None)
    elastic = 'TORCHELASTIC_RESTART_COUNT' in os.environ
    if cuda and not elastic:
        return  # mmengine's init_dist
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'nccl' if cuda else 'gloo')
    timeout = datetime.timedelta(seconds=dist_cfg.pop('timeout', 1800))
    if cuda:
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
    rank, world_size = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])
    store = _elastic_attempt_store(rank, world_size, timeout) \
        if elastic else None
    torch_dist.init_process_group(
        backend=backend, store=store, rank=rank, world_size=world_size,
        timeout=timeout, **dist_cfg)


def build_runner(cfg: Config, config_path: str) -> Runner:
    """Adapts ``cfg`` to the machine and builds its runner.

    Without CUDA, SyncBN becomes BN and the backend gloo (logged once the
    runner's logger exists). Local checkpoint files are loaded safely
    (:func:`~hrformer_seg.engine.register_safe_local_loader`),
    ``env_cfg.malloc_mmap_threshold`` is applied
    (:mod:`hrformer_seg.utils.malloc`) and the process group is created
    (:func:`init_distributed`). Build errors name ``config_path``.
    """
    register_safe_local_loader()
    device_messages = adapt_cfg_to_device(cfg)
    try:
        warning = apply_env_cfg(cfg.get('env_cfg', {}))
    except ValueError as exc:
        raise ConfigBuildError(
            f'{exc}\n  -> check the config file {config_path}') from exc
    if warning:
        device_messages.append(warning)
    init_distributed(cfg)
    with config_error_context(config_path):
        if 'runner_type' in cfg:
            runner = RUNNERS.build(cfg)
        else:
            runner = Runner.from_cfg(cfg)
    for message in device_messages:
        runner.logger.warning(message)
    return runner
