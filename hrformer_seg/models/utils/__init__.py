"""Model utilities: checkpoint conversion, activation memory, BN folding."""
from .activation_memory import (
    ACTIVATION_MEMORY_MODES,
    DEFAULT_ACTIVATION_MEMORY,
    ActivationMemoryMixin,
    checkpoint_module,
    frozen_bn_stats,
    set_activation_memory,
)
from .ckpt_convert import (
    convert_official_hrformer,
    convert_official_ocrnet,
    describe_official_ocrnet,
    fold_conv_bias_into_bn,
    is_official_hrformer,
    is_official_ocrnet,
    resize_bias_table,
    resize_relative_position_bias_tables,
)
from .fuse_conv_bn import fold_batch_norms

__all__ = [
    'ACTIVATION_MEMORY_MODES', 'DEFAULT_ACTIVATION_MEMORY',
    'ActivationMemoryMixin', 'checkpoint_module', 'frozen_bn_stats',
    'set_activation_memory', 'convert_official_hrformer',
    'convert_official_ocrnet', 'describe_official_ocrnet', 'fold_batch_norms',
    'fold_conv_bias_into_bn', 'is_official_hrformer', 'is_official_ocrnet',
    'resize_bias_table',
    'resize_relative_position_bias_tables'
]
