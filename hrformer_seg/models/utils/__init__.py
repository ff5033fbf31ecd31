"""Model utilities: checkpoint conversion, activation checkpointing."""
from .activation_checkpoint import checkpoint_module, frozen_bn_stats
from .ckpt_convert import (convert_official_hrformer, is_official_hrformer,
                           resize_bias_table,
                           resize_relative_position_bias_tables)

__all__ = [
    'checkpoint_module', 'frozen_bn_stats', 'convert_official_hrformer',
    'is_official_hrformer', 'resize_bias_table',
    'resize_relative_position_bias_tables'
]
