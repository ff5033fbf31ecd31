"""General utilities."""
from .class_count import ClassCountError, resolve_num_classes
from .checkpoint import (
    CheckpointError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_file,
)

__all__ = [
    'CheckpointError', 'ClassCountError', 'resolve_num_classes', 'extract_state_dict', 'load_checkpoint_file',
    'load_state_dict_file'
]
