"""Hooks of hrformer_seg's training engine."""
from .checkpoint_hook import AtomicCheckpointHook

__all__ = ['AtomicCheckpointHook']
from .visualization_hook import SegVisualizationHook  # noqa: F401
