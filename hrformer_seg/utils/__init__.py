"""General utilities."""
from .checkpoint import (
    CheckpointError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_file,
)
from .class_count import ClassCountError, resolve_num_classes

__all__ = [
    'CheckpointError', 'ClassCountError', 'extract_state_dict',
    'load_checkpoint_file', 'load_state_dict_file', 'resolve_num_classes'
]
