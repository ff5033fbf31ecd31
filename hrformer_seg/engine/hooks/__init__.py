"""Hooks of hrformer_seg's training engine."""
from .checkpoint_hook import AtomicCheckpointHook
from .visualization_hook import SegVisualizationHook

__all__ = ['AtomicCheckpointHook', 'SegVisualizationHook']
