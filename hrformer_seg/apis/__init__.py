"""High-level API: load a trained model, segment images, draw results."""
from .inference import inference_model, init_model, show_result_pyplot
from .inferencer import SegInferencer

__all__ = ['SegInferencer', 'init_model', 'inference_model',
           'show_result_pyplot']
