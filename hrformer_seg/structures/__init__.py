from .seg_data_sample import SegDataSample

__all__ = ['SegDataSample']
