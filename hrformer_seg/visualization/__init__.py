"""Drawing label maps: the visualiser, its hook and palette helpers."""
from .local_visualizer import SegLocalVisualizer, label_map_to_numpy, write_rgb
from .palette import (
    cityscapes_metainfo,
    colorize,
    generate_palette,
    resolve_meta,
)
from .visualization_hook import SegVisualizationHook

__all__ = [
    'SegLocalVisualizer', 'SegVisualizationHook', 'cityscapes_metainfo',
    'colorize',
    'generate_palette', 'label_map_to_numpy', 'resolve_meta', 'write_rgb'
]
