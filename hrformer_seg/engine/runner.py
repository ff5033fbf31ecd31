"""``SegRunner``: mmengine's ``Runner`` with checkpoints that do not lose work.

What changes (config ``runner_type='SegRunner'``):

- checkpoints are written atomically and hold only tensors and plain Python
  values (loadable with ``torch.load(weights_only=True)``), plus every rank's
  random states and the position of the training sample stream;
- resuming loads them safely, checks that the model and the dataset classes
  are those of the checkpoint (errors name the mismatching keys), and
  continues exactly (with ``ResumableIterBasedTrainLoop``);
- a training dataloader with ``ResumableInfiniteSampler`` gets its dataset
  wrapped in :class:`~hrformer_seg.engine.sampler.SeededDataset`, so random
  augmentation depends only on each sample's position in the stream;
- auto-resume (``resume=True``, ``load_from=None``) finds the checkpoint
  named by ``work_dir/last_checkpoint`` even if the work dir was moved;
- ``env_cfg.malloc_mmap_threshold`` (bytes) fixes glibc's mmap threshold,
  which bounds a CPU process's memory (:mod:`hrformer_seg.utils.malloc`).
"""
import copy
import datetime
import logging
import os
import os.path as osp
import time
from typing import Callable, Dict, List, Optional, Sequence, Union

import mmengine
import torch
import torch.distributed as torch_dist
from mmengine.dist import all_gather_object, is_distributed, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import weights_to_cpu
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from hrformer_seg.registry import (DATA_SAMPLERS, DATASETS, MODEL_WRAPPERS,
                                   RUNNERS)
from hrformer_seg.utils.malloc import apply_env_cfg
from .checkpoint import (CheckpointError, UnencodableValueError, atomic_save,
                         checkpoints_in, encode, latest_checkpoint,
                         load_checkpoint_file)
from .hooks import AtomicCheckpointHook
from .loops import ResumableIterBasedTrainLoop
from .random_state import get_rng_state, set_rng_state
from .sampler import ResumableInfiniteSampler, SeededDataset

_MAX_LISTED = 10


def _uses_resumable_sampler(dataloader_cfg: dict) -> bool:
    sampler = dataloader_cfg.get('sampler')
    if isinstance(sampler, ResumableInfiniteSampler):
        return True
    if not isinstance(sampler, dict):
        return False
    sampler_type = sampler.get('type')
    if isinstance(sampler_type, str):
        sampler_type = DATA_SAMPLERS.get(sampler_type)
    return isinstance(sampler_type, type) and issubclass(
        sampler_type, ResumableInfiniteSampler)


def _listing(items: Sequence[str]) -> str:
    shown = '\n  '.join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return '\n  ' + shown + (f'\n  ... and {more} more' if more > 0 else '')


def state_dict_mismatches(model_state: Dict[str, torch.Tensor],
                          ckpt_state: Dict[str, torch.Tensor]) -> List[str]:
    """Descriptions of the keys and shapes that differ between two states."""
    problems = []
    for key in model_state:
        if key not in ckpt_state:
            problems.append(f'{key}: in the model, missing in the checkpoint')
    for key, value in ckpt_state.items():
        if key not in model_state:
            problems.append(f'{key}: in the checkpoint, not in the model')
        elif (isinstance(value, torch.Tensor)
              and tuple(value.shape) != tuple(model_state[key].shape)):
            problems.append(
                f'{key}: checkpoint shape {tuple(value.shape)}, model shape '
                f'{tuple(model_state[key].shape)}')
    return problems


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


@RUNNERS.register_module()
class SegRunner(Runner):
    """mmengine ``Runner`` with atomic, safe, exactly resumable checkpoints.

    Takes the same arguments as mmengine's ``Runner`` (build it with
    ``RUNNERS.build(cfg)`` and ``runner_type='SegRunner'``).
    """

    # ------------------------------------------------- environment (CPU)
    def setup_env(self, env_cfg: Dict) -> None:
        """mmengine's ``setup_env``, with a process group that works on CPU
        and after a torchrun restart.

        For the ``pytorch`` launcher the process group is created here when
        CUDA is missing (mmengine's ``init_dist`` calls
        ``torch.cuda.set_device``, which a CPU build of torch lacks; the
        backend becomes gloo) or when torchrun runs the job (to isolate
        restarts, see :func:`_elastic_attempt_store`). Otherwise mmengine's
        ``init_dist`` does it as before.

        ``env_cfg.malloc_mmap_threshold`` (bytes), if set, fixes glibc's
        mmap threshold (:mod:`hrformer_seg.utils.malloc`).
        """
        elastic = 'TORCHELASTIC_RESTART_COUNT' in os.environ
        cuda = torch.cuda.is_available()
        if (self.distributed and self.launcher == 'pytorch'
                and (elastic or not cuda)
                and not torch_dist.is_initialized()):
            dist_cfg = dict(env_cfg.get('dist_cfg', {}))
            backend = dist_cfg.pop('backend', 'nccl' if cuda else 'gloo')
            if not cuda and backend != 'gloo':
                print_log(f'no CUDA: distributed backend {backend!r} '
                          "replaced by 'gloo'", logger='current',
                          level=logging.WARNING)
                backend = 'gloo'
            timeout = datetime.timedelta(
                seconds=dist_cfg.pop('timeout', 1800))
            if cuda:
                torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
            rank = int(os.environ['RANK'])
            world_size = int(os.environ['WORLD_SIZE'])
            store = _elastic_attempt_store(rank, world_size, timeout) \
                if elastic else None
            torch_dist.init_process_group(
                backend=backend, store=store, rank=rank,
                world_size=world_size, timeout=timeout, **dist_cfg)
        super().setup_env(env_cfg)
        warning = apply_env_cfg(env_cfg)
        if warning:
            print_log(warning, logger='current', level=logging.WARNING)

    def wrap_model(self, model_wrapper_cfg: Optional[Dict],
                   model: torch.nn.Module) -> torch.nn.Module:
        """mmengine's ``wrap_model``; on CPU, DDP without ``device_ids``.

        mmengine always passes ``device_ids=[LOCAL_RANK]``, which DDP
        refuses for a CPU module, and SyncBN cannot run on CPU: it is
        reverted to plain BN with a warning.
        """
        if (not self.distributed or is_model_wrapper(model)
                or torch.cuda.is_available()):
            return super().wrap_model(model_wrapper_cfg, model)
        if any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules()):
            self.logger.warning('SyncBN runs on GPUs only: reverted to BN')
            model = revert_sync_batchnorm(model)
        wrapper_cfg = dict(model_wrapper_cfg or {})
        wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
        if model_wrapper_cfg is None:
            wrapper_cfg.update(
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get(
                    'find_unused_parameters', False))
        default_args = dict(module=model)
        wrapper_type = MODEL_WRAPPERS.get(wrapper_cfg['type'])
        if isinstance(wrapper_type, type) and issubclass(
                wrapper_type, DistributedDataParallel):
            default_args['device_ids'] = None
        return MODEL_WRAPPERS.build(wrapper_cfg, default_args=default_args)

    # ----------------------------------------------------------- building
    @staticmethod
    def build_dataloader(dataloader: Union[DataLoader, Dict],
                         seed: Optional[int] = None,
                         diff_rank_seed: bool = False) -> DataLoader:
        """mmengine's ``build_dataloader``; with ``ResumableInfiniteSampler``
        the dataset is wrapped in :class:`SeededDataset`."""
        if isinstance(dataloader, dict) and _uses_resumable_sampler(
                dataloader):
            dataloader = copy.copy(dataloader)
            dataset = dataloader['dataset']
            if isinstance(dataset, dict):
                dataset = DATASETS.build(dataset)
                if hasattr(dataset, 'full_init'):
                    dataset.full_init()
            if not isinstance(dataset, SeededDataset):
                dataset = SeededDataset(dataset)
            dataloader['dataset'] = dataset
        return Runner.build_dataloader(
            dataloader, seed=seed, diff_rank_seed=diff_rank_seed)

    def _warn_about_lossy_components(self) -> None:
        advice = []
        if not isinstance(self.train_loop, ResumableIterBasedTrainLoop):
            advice.append("train_cfg.type='ResumableIterBasedTrainLoop' "
                          '(exact resume, NaN guard)')
        elif self.train_loop.sampler is None:
            advice.append("train_dataloader.sampler.type="
                          "'ResumableInfiniteSampler' (no replay on resume)")
        for hook in self.hooks:
            if (isinstance(hook, CheckpointHook)
                    and not isinstance(hook, AtomicCheckpointHook)):
                advice.append("default_hooks.checkpoint.type="
                              "'AtomicCheckpointHook' (no partial files, "
                              'never deletes the last good checkpoint)')
        if advice:
            self.logger.warning(
                'This config can lose work on a crash or resume inexactly; '
                'set ' + '; '.join(advice) + '.')

    def train(self) -> torch.nn.Module:
        """mmengine's ``train`` after warning about lossy components."""
        if self._train_loop is not None:
            self._train_loop = self.build_train_loop(self._train_loop)
            self._warn_about_lossy_components()
        return super().train()

    # ------------------------------------------------------------- saving
    def _message_hub_state(self) -> dict:
        state = self.message_hub.state_dict()
        runtime_info = {}
        for key, value in state['runtime_info'].items():
            try:
                runtime_info[key] = encode(value, f'message_hub.{key}')
            except UnencodableValueError as exc:
                self.logger.warning(f'not saved in the checkpoint: {exc}')
        return dict(log_scalars=encode(dict(state['log_scalars'])),
                    runtime_info=runtime_info,
                    resumed_keys=dict(state['resumed_keys']))

    def _param_scheduler_states(self) -> Union[list, dict]:
        if isinstance(self.param_schedulers, dict):
            return {name: [s.state_dict() for s in schedulers]
                    for name, schedulers in self.param_schedulers.items()}
        return [s.state_dict() for s in self.param_schedulers]

    def _config_text(self) -> str:
        # formatting a config takes ~0.5 s (yapf); it does not change
        if getattr(self, '_cfg_text', None) is None:
            self._cfg_text = self.cfg.pretty_text
        return self._cfg_text

    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Writes ``out_dir/filename`` atomically (rank 0).

        Every rank must call it: the random states of all ranks are gathered
        into the checkpoint (``rng_states[rank]``).
        """
        if file_client_args is not None or backend_args is not None:
            raise ValueError(
                'SegRunner writes checkpoints to local files only (atomic '
                'replace); file_client_args/backend_args are not supported')
        meta = {} if meta is None else dict(meta)
        if by_epoch:
            meta.setdefault('epoch', self.epoch + 1)
            meta.setdefault('iter', self.iter)
        else:
            meta.setdefault('epoch', self.epoch)
            meta.setdefault('iter', self.iter + 1)
        rng_state = get_rng_state()
        rng_states = (all_gather_object(rng_state) if is_distributed()
                      else [rng_state])
        if not is_main_process():
            return

        dataset = self.train_dataloader.dataset
        meta.update(
            cfg=self._config_text(),
            seed=self.seed,
            world_size=self.world_size,
            experiment_name=self.experiment_name,
            time=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
            mmengine_version=mmengine.__version__)
        if hasattr(dataset, 'metainfo'):
            meta['dataset_meta'] = dataset.metainfo
        model = self.model.module if is_model_wrapper(self.model) \
            else self.model
        checkpoint = dict(
            meta=meta,
            state_dict=weights_to_cpu(model.state_dict()),
            message_hub=self._message_hub_state(),
            rng_states=rng_states)
        if hasattr(self.train_loop, 'state_dict'):
            checkpoint['train_loop'] = self.train_loop.state_dict(
                meta['iter'])
        if save_optimizer:
            if not isinstance(self.optim_wrapper, OptimWrapper):
                raise TypeError('self.optim_wrapper should be an '
                                'OptimWrapper or OptimWrapperDict, got '
                                f'{self.optim_wrapper}')
            checkpoint['optimizer'] = self.optim_wrapper.state_dict()
        if save_param_scheduler and self.param_schedulers is not None:
            checkpoint['param_schedulers'] = self._param_scheduler_states()

        self.call_hook('before_save_checkpoint', checkpoint=checkpoint)
        atomic_save(encode(checkpoint), osp.join(out_dir, filename))

    # ----------------------------------------------------------- resuming
    def load_or_resume(self) -> None:
        """Resumes (``resume=True``) or loads ``load_from``, once."""
        if self._has_loaded:
            return
        if self._resume and self._load_from is None:
            resume_from = latest_checkpoint(self.work_dir)
            if resume_from is None:
                self.logger.info(
                    f'No checkpoint recorded in {self.work_dir}/'
                    'last_checkpoint: training from the start.')
                return
            self.logger.info(f'Auto-resuming from {resume_from}')
            self.resume(resume_from, auto=True)
        elif self._resume:
            self.resume(self._load_from)
        elif self._load_from is not None:
            self.load_checkpoint(self._load_from)
        self._has_loaded = self._resume or self._load_from is not None

    def _load_for_resume(self, filename: str, auto: bool) -> dict:
        try:
            checkpoint = load_checkpoint_file(filename, map_location='cpu')
        except CheckpointError as exc:
            others = checkpoints_in(osp.dirname(osp.abspath(filename)),
                                    exclude=osp.abspath(filename))
            hint = (f' The newest other checkpoint there is {others[0]} '
                    f'(not checked): resume from it with --resume {others[0]}'
                    if others else '')
            how = 'auto-resuming' if auto else 'resuming'
            raise type(exc)(f'{how} failed: {exc}.{hint}') from exc
        if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
            raise CheckpointError(
                f'{filename} is not a training checkpoint (no state_dict)')
        return checkpoint

    def _check_fits(self, checkpoint: dict, filename: str) -> None:
        model = self.model.module if is_model_wrapper(self.model) \
            else self.model
        problems = state_dict_mismatches(model.state_dict(),
                                         checkpoint['state_dict'])
        if problems:
            raise CheckpointError(
                f'cannot resume from {filename}: the model of this config '
                f'differs from the checkpoint\'s in {len(problems)} '
                f'entries:{_listing(problems)}')
        saved_meta = checkpoint.get('meta', {}).get('dataset_meta') or {}
        current_meta = getattr(self.train_dataloader.dataset, 'metainfo',
                               None) or {}
        if 'classes' in saved_meta and 'classes' in current_meta:
            saved = tuple(saved_meta['classes'])
            current = tuple(current_meta['classes'])
            if saved != current:
                raise CheckpointError(
                    f'cannot resume from {filename}: it was trained on the '
                    f'classes {saved}, the dataset of this config has '
                    f'{current}')

    def resume(self,
               filename: str,
               resume_optimizer: bool = True,
               resume_param_scheduler: bool = True,
               map_location: Union[str, Callable] = 'default',
               auto: bool = False) -> None:
        """Restores the whole training state of ``filename``.

        Model, optimizer, parameter schedulers, message hub, iteration, the
        sample stream position and this rank's random states. The file is
        loaded with ``weights_only=True``; nothing in it is executed.

        Raises:
            CheckpointError: the file is missing, truncated or corrupt (the
                message names it and the newest other checkpoint next to
                it), or its model keys/shapes or dataset classes differ from
                this config's.
        """
        checkpoint = self._load_for_resume(filename, auto)
        self._check_fits(checkpoint, filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) \
            else self.model
        model.load_state_dict(checkpoint['state_dict'], strict=True)

        meta = checkpoint['meta']
        self.train_loop._epoch = meta['epoch']
        self.train_loop._iter = meta['iter']
        saved_seed = meta.get('seed')
        if saved_seed is not None and saved_seed != self.seed:
            if self._randomness_cfg.get('seed') is not None:
                self.logger.warning(
                    f'the checkpoint was trained with seed {saved_seed}, the '
                    f'config sets {self._randomness_cfg["seed"]}; using '
                    f'{saved_seed}')
            self._randomness_cfg.update(seed=saved_seed)
            self.set_randomness(**self._randomness_cfg)

        self.message_hub.load_state_dict(checkpoint['message_hub'])
        if 'optimizer' in checkpoint and resume_optimizer:
            self.optim_wrapper = self.build_optim_wrapper(self.optim_wrapper)
            self.optim_wrapper.load_state_dict(checkpoint['optimizer'])
        if ('param_schedulers' in checkpoint and resume_param_scheduler
                and self.param_schedulers is not None):
            self.param_schedulers = self.build_param_scheduler(
                self.param_schedulers)
            saved = checkpoint['param_schedulers']
            if isinstance(self.param_schedulers, dict):
                for name, schedulers in self.param_schedulers.items():
                    for scheduler, state in zip(schedulers, saved[name]):
                        scheduler.load_state_dict(state)
            else:
                for scheduler, state in zip(self.param_schedulers, saved):
                    scheduler.load_state_dict(state)

        rng_state = self._rng_state_of_this_rank(checkpoint, meta)
        if hasattr(self.train_loop, 'load_state_dict') and \
                'train_loop' in checkpoint:
            self.train_loop.load_state_dict(checkpoint['train_loop'],
                                            rng_state)
        elif rng_state is not None:
            set_rng_state(rng_state)
        self._has_loaded = True
        self.logger.info(f'Resumed from {filename} at iteration {self.iter}')

    def _rng_state_of_this_rank(self, checkpoint: dict,
                                meta: dict) -> Optional[dict]:
        states = checkpoint.get('rng_states')
        if not states:
            self.logger.warning('the checkpoint holds no random states: the '
                                'resumed run will not repeat the original')
            return None
        if len(states) != self.world_size:
            self.logger.warning(
                f'the checkpoint was written by {len(states)} processes, '
                f'this run has {self.world_size}: the random states cannot '
                'be matched and the resumed run will not repeat the original')
        if self.rank >= len(states):
            return None
        return states[self.rank]
