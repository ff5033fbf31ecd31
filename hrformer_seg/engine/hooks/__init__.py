"""Hooks of hrformer_seg's training engine."""
from .checkpoint_hook import AtomicCheckpointHook
from .fold_bn_hook import FoldBatchNormHook
from .resume_hook import ExactResumeHook

__all__ = ['AtomicCheckpointHook', 'ExactResumeHook', 'FoldBatchNormHook']
