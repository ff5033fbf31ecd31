"""Training that does not lose work, on mmengine's extension points:
crash-safe checkpoint files, exact resumption, no step on a NaN loss.
Importing it only registers the components (docs/engine.md)."""
from .amp_optim_wrapper import BF16AmpOptimWrapper
from .checkpoint import (
    AtomicLocalBackend,
    CheckpointError,
    atomic_save,
    latest_checkpoint,
    load_training_checkpoint,
    register_safe_local_loader,
)
from .finite_loss_wrapper import FiniteLossOptimWrapper
from .grouped_constructor import (
    GroupedOptimWrapperConstructor,
    merge_param_groups,
)
from .hooks import AtomicCheckpointHook, ExactResumeHook, FoldBatchNormHook
from .loops import NonFiniteLossError, ResumableIterBasedTrainLoop
from .sampler import ResumableInfiniteSampler, SeededDataset, SeededIndex

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'BF16AmpOptimWrapper',
    'CheckpointError',
    'ExactResumeHook', 'FiniteLossOptimWrapper', 'FoldBatchNormHook',
    'GroupedOptimWrapperConstructor', 'NonFiniteLossError',
    'ResumableInfiniteSampler', 'ResumableIterBasedTrainLoop',
    'SeededDataset', 'SeededIndex', 'atomic_save', 'latest_checkpoint',
    'load_training_checkpoint', 'merge_param_groups',
    'register_safe_local_loader'
]
