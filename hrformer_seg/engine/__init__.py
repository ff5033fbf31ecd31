"""Training that does not lose work: atomic, safe, exactly resumable.

Everything here extends mmengine through its extension points and works with
mmengine's ``Runner``: the ``'atomic_local'`` file backend and
``AtomicCheckpointHook`` (crash-safe writes), ``ExactResumeHook`` (random
states and sample stream in the checkpoint, weights-only format),
``ResumableIterBasedTrainLoop`` with ``ResumableInfiniteSampler`` (resume
without replay), ``FiniteLossOptimWrapper`` (no step on a NaN loss) and
``GroupedOptimWrapperConstructor``. Importing it only registers them; the
tools call :func:`register_safe_local_loader`.
"""
from .checkpoint import (
    AtomicLocalBackend,
    CheckpointError,
    atomic_save,
    latest_checkpoint,
    load_training_checkpoint,
    register_safe_local_loader,
)
from .hooks import AtomicCheckpointHook, ExactResumeHook, FoldBatchNormHook
from .loops import NonFiniteLossError, ResumableIterBasedTrainLoop
from .optimizers import (
    FiniteLossOptimWrapper,
    GroupedOptimWrapperConstructor,
    merge_param_groups,
)
from .sampler import ResumableInfiniteSampler, SeededDataset, SeededIndex

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'CheckpointError',
    'ExactResumeHook', 'FiniteLossOptimWrapper', 'FoldBatchNormHook',
    'GroupedOptimWrapperConstructor', 'NonFiniteLossError',
    'ResumableInfiniteSampler', 'ResumableIterBasedTrainLoop',
    'SeededDataset', 'SeededIndex', 'atomic_save', 'latest_checkpoint',
    'load_training_checkpoint', 'merge_param_groups',
    'register_safe_local_loader'
]
