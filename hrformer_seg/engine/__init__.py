"""Training engine that does not lose work: atomic, safe, exact checkpoints.

Importing it registers ``SegRunner``, ``ResumableIterBasedTrainLoop``,
``ResumableInfiniteSampler``, ``AtomicCheckpointHook`` and
``GroupedOptimWrapperConstructor`` in the ``hrformer_seg`` scope, and
routes mmengine's loading of local checkpoint files (``load_from``,
``Pretrained`` init) through the weights-only loader.
"""
from .checkpoint import (CheckpointError, atomic_save, load_checkpoint_file,
                         register_safe_local_loader)
from .hooks import AtomicCheckpointHook
from .loops import NonFiniteLossError, ResumableIterBasedTrainLoop
from .optimizers import GroupedOptimWrapperConstructor, merge_param_groups
from .runner import SegRunner
from .sampler import ResumableInfiniteSampler, SeededDataset, SeededIndex

register_safe_local_loader()

__all__ = [
    'AtomicCheckpointHook', 'CheckpointError',
    'GroupedOptimWrapperConstructor', 'NonFiniteLossError',
    'ResumableInfiniteSampler', 'ResumableIterBasedTrainLoop', 'SegRunner',
    'SeededDataset', 'SeededIndex', 'atomic_save',
    'load_checkpoint_file', 'merge_param_groups'
]
