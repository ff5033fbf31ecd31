"""What an exact, safe resume needs beyond mmengine's checkpoint contents."""
from typing import Dict, List

import torch
from mmengine.dist import all_gather_object, is_distributed
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper

from hrformer_seg.registry import HOOKS
from hrformer_seg.utils.checkpoint import CheckpointError
from ..checkpoint import UnencodableValueError, decode, encode
from ..random_state import get_rng_state, set_rng_state
from .checkpoint_hook import AtomicCheckpointHook

_MAX_LISTED = 10


def state_dict_mismatches(model_state: Dict[str, torch.Tensor],
                          ckpt_state: Dict[str, torch.Tensor]) -> List[str]:
    """Descriptions of the keys and shapes that differ between two states."""
    problems = [f'{key}: in the model, missing in the checkpoint'
                for key in model_state if key not in ckpt_state]
    for key, value in ckpt_state.items():
        shape = tuple(getattr(value, 'shape', ()))
        if key not in model_state:
            problems.append(f'{key}: in the checkpoint, not in the model')
        elif shape != tuple(model_state[key].shape):
            problems.append(f'{key}: checkpoint shape {shape}, model shape '
                            f'{tuple(model_state[key].shape)}')
    return problems


def keep_mismatched_shapes(model_state: Dict[str, torch.Tensor],
                           ckpt_state: Dict[str, torch.Tensor]) -> List[str]:
    """Let a checkpoint of another class count load into a model.

    Every entry of ``ckpt_state`` whose shape differs from the model's is
    replaced (in place) by the model's own value, so loading leaves it as
    initialised; keys may carry the ``module.`` prefix of a wrapped model.

    Returns:
        ``'KEY: checkpoint (19, 512, 1, 1), model (3, 512, 1, 1)'`` for each
        replaced entry.
    """
    kept = []
    for key, value in ckpt_state.items():
        name = key[len('module.'):] if key.startswith('module.') else key
        own = model_state.get(name)
        shape = tuple(getattr(value, 'shape', ()))
        if own is not None and shape != tuple(own.shape):
            ckpt_state[key] = own.detach().clone()
            kept.append(f'{name}: checkpoint {shape}, model '
                        f'{tuple(own.shape)}')
    return kept


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Checkpoints that load weights-only and resume exactly: every rank's
    random states and the stream position are saved and handed back to the
    loop; a checkpoint whose model or classes differ is refused, its config
    text never run; validation keeps the random states (docs/engine.md).

    Without ``resume`` (``load_from`` to fine-tune), the weights whose shape
    differs from the model's (the classifiers of a checkpoint with another
    class count) keep their initialisation, listed in one log message.
    """

    # after the hooks adding to a checkpoint (EMA), before CheckpointHook
    priority = 'LOW'

    def __init__(self) -> None:
        self._rng_states = None
        self._rng_before_val = None

    # validation must not shift the training's random stream
    def before_val(self, runner) -> None:
        self._rng_before_val = get_rng_state()

    def after_val(self, runner) -> None:
        set_rng_state(self._rng_before_val)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        # checkpoints are written on rank 0: gather the states beforehand
        if is_distributed() and any(
                isinstance(hook, CheckpointHook) and not hook.by_epoch and (
                    hook.every_n_train_iters(runner, hook.interval,
                                             hook.save_begin)
                    or (hook.save_last and hook.is_last_train_iter(runner)))
                for hook in runner.hooks):
            self._rng_states = all_gather_object(get_rng_state())

    def before_train(self, runner) -> None:
        from ..loops import ResumableIterBasedTrainLoop
        advice = []
        loop = runner.train_loop
        if not isinstance(loop, ResumableIterBasedTrainLoop):
            advice.append("train_cfg.type='ResumableIterBasedTrainLoop' "
                          '(exact resume, NaN guard)')
        elif loop.sampler is None:
            advice.append("train_dataloader.sampler.type="
                          "'ResumableInfiniteSampler' (no replay on resume)")
        if any(isinstance(hook, CheckpointHook)
               and not isinstance(hook, AtomicCheckpointHook)
               for hook in runner.hooks):
            advice.append("default_hooks.checkpoint.type="
                          "'AtomicCheckpointHook' (no partial files, "
                          'never deletes the last good checkpoint)')
        if advice:
            runner.logger.warning(
                'This config can lose work on a crash or resume inexactly; '
                'set ' + '; '.join(advice) + '.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_states'] = self._rng_states or [get_rng_state()]
        self._rng_states = None
        checkpoint['meta']['world_size'] = runner.world_size
        if hasattr(runner.train_loop, 'state_dict'):
            checkpoint['train_loop'] = runner.train_loop.state_dict(
                checkpoint['meta']['iter'])
        info = checkpoint['message_hub']['runtime_info']
        for key in list(info):
            try:
                info[key] = encode(info[key], f'message_hub.{key}')
            except UnencodableValueError as exc:
                runner.logger.warning(f'not saved in the checkpoint: {exc}')
                del info[key]
        encoded = encode(checkpoint)
        checkpoint.clear()
        checkpoint.update(encoded)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        decoded = decode(checkpoint)
        checkpoint.clear()
        checkpoint.update(decoded)
        meta = checkpoint.get('meta') or {}
        meta.pop('config', None)  # mmengine's resume would run it
        source = runner.cfg.get('load_from') or 'the checkpoint'
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        if not runner.cfg.get('resume', False):
            kept = keep_mismatched_shapes(model.state_dict(),
                                          checkpoint.get('state_dict', {}))
            if kept:
                runner.logger.warning(
                    f'load_from {source}: {len(kept)} weights have another '
                    'shape in the checkpoint (another class count) and are '
                    'not loaded; they keep their initialisation, everything '
                    'else loads:\n  ' + '\n  '.join(kept))
            return
        problems = state_dict_mismatches(model.state_dict(),
                                         checkpoint.get('state_dict', {}))
        if problems:
            listed = '\n  '.join(problems[:_MAX_LISTED])
            more = len(problems) - _MAX_LISTED
            raise CheckpointError(
                f'cannot resume from {source}: the model of this config '
                f"differs from the checkpoint's in {len(problems)} entries:"
                f'\n  {listed}' + (f'\n  ... and {more} more' if more > 0
                                   else ''))
        saved = (meta.get('dataset_meta') or {}).get('classes')
        current = (getattr(runner.train_dataloader.dataset, 'metainfo', None)
                   or {}).get('classes')
        if saved is not None and current is not None \
                and tuple(saved) != tuple(current):
            raise CheckpointError(
                f'cannot resume from {source}: it was trained on the classes '
                f'{tuple(saved)}, the dataset of this config has '
                f'{tuple(current)}')
        states = checkpoint.get('rng_states') or []
        if len(states) != runner.world_size:
            runner.logger.warning(
                f'the checkpoint holds the random states of {len(states)} '
                f'processes, this run has {runner.world_size}: the resumed '
                'run will not repeat the original')
        rng_state = states[runner.rank] if runner.rank < len(states) else None
        loop = runner.train_loop
        if hasattr(loop, 'load_state_dict') and 'train_loop' in checkpoint:
            loop.load_state_dict(checkpoint['train_loop'], meta['iter'],
                                 rng_state)
        elif rng_state is not None:
            set_rng_state(rng_state)
        runner.logger.info(
            f'Resumed from {source} at iteration {meta["iter"]}')
