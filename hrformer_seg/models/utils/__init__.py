"""Model utilities: checkpoint conversion, activation checkpointing, BN folding."""
from .activation_checkpoint import checkpoint_module, frozen_bn_stats
from .ckpt_convert import (convert_official_hrformer, is_official_hrformer,
                           resize_bias_table,
                           resize_relative_position_bias_tables)
from .fuse_conv_bn import fold_batch_norms

__all__ = [
    'checkpoint_module', 'frozen_bn_stats', 'convert_official_hrformer',
    'fold_batch_norms', 'is_official_hrformer', 'resize_bias_table',
    'resize_relative_position_bias_tables'
]
