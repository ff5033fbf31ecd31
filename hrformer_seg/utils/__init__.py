"""General utilities."""
from .checkpoint import (
    CheckpointError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_file,
)

__all__ = [
    'CheckpointError', 'extract_state_dict', 'load_checkpoint_file',
    'load_state_dict_file'
]
