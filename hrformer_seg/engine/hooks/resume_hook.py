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
        if key not in model_state:
            problems.append(f'{key}: in the checkpoint, not in the model')
        elif (isinstance(value, torch.Tensor)
              and tuple(value.shape) != tuple(model_state[key].shape)):
            problems.append(
                f'{key}: checkpoint shape {tuple(value.shape)}, model shape '
                f'{tuple(model_state[key].shape)}')
    return problems


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Makes training checkpoints weights-only loadable and exactly resumable.

    Saving (``before_save_checkpoint``, on every rank): adds every rank's
    random states (``rng_states``) and the position of the sample stream
    (``train_loop``, with
    :class:`~hrformer_seg.engine.loops.ResumableIterBasedTrainLoop`), then
    encodes the checkpoint into tensors and plain values
    (:func:`~hrformer_seg.engine.checkpoint.encode`), so that it loads with
    ``torch.load(weights_only=True)``. Message hub entries that cannot be
    encoded are left out with a warning.

    Resuming (``after_load_checkpoint`` with ``resume=True``): refuses a
    checkpoint whose model keys and shapes or dataset classes differ from
    this config's (the error lists them) and hands this rank's random states
    and the stream position to the loop. The config text stored in the
    checkpoint is never executed.

    It also warns when training starts with components that can lose work.
    """

    priority = 'LOWEST'  # encode after the other hooks added their entries

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
        rng_state = get_rng_state()
        checkpoint['rng_states'] = (all_gather_object(rng_state)
                                    if is_distributed() else [rng_state])
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
        # a no-op when the safe loader (which decodes) read the file
        decoded = decode(checkpoint)
        checkpoint.clear()
        checkpoint.update(decoded)
        meta = checkpoint.get('meta') or {}
        # mmengine's resume would run the config text it finds there
        meta.pop('config', None)
        if not runner.cfg.get('resume', False):
            return
        source = runner.cfg.get('load_from') or 'the checkpoint'
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
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
        rng_state = self._rng_state_of_this_rank(runner, checkpoint)
        loop = runner.train_loop
        if hasattr(loop, 'load_state_dict') and 'train_loop' in checkpoint:
            loop.load_state_dict(checkpoint['train_loop'], meta['iter'],
                                 rng_state)
        elif rng_state is not None:
            set_rng_state(rng_state)

    @staticmethod
    def _rng_state_of_this_rank(runner, checkpoint: dict):
        states = checkpoint.get('rng_states')
        if not states:
            runner.logger.warning('the checkpoint holds no random states: '
                                  'the resumed run will not repeat the '
                                  'original')
            return None
        if len(states) != runner.world_size:
            runner.logger.warning(
                f'the checkpoint was written by {len(states)} processes, '
                f'this run has {runner.world_size}: the random states cannot '
                'be matched and the resumed run will not repeat the original')
        return states[runner.rank] if runner.rank < len(states) else None
