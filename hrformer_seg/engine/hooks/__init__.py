"""Hooks of hrformer_seg's training engine."""
from .checkpoint_hook import AtomicCheckpointHook
from .fold_bn_hook import FoldBatchNormHook
from .visualization_hook import SegVisualizationHook

__all__ = ['AtomicCheckpointHook', 'FoldBatchNormHook', 'SegVisualizationHook']
