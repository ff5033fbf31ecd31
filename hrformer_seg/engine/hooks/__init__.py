
from .visualization_hook import SegVisualizationHook  # noqa: F401
