"""Small models shared by several tests.

``TINY``: settings of a tiny HRFormer with every structural feature of the
real ones (bottlenecks, 2-4 branches, several modules and blocks, multi-head
window attention), for the backbone and checkpointing tests.
:func:`hrformer_s_ocrnet`: the real HRFormer-S with narrow OCR heads, for the
tests that compare fast inference paths with the plain one.
"""
from hrformer_seg.registry import MODELS

TINY = dict(
    stem_channels=16,
    bottleneck_planes=8,
    num_bottlenecks=2,
    num_modules=(1, 2, 1),
    num_blocks=((1, 1), (2, 2, 2), (1, 1, 1, 1)),
    num_channels=((8, 16), (8, 16, 24), (8, 16, 24, 32)),
    num_heads=((1, 2), (1, 2, 3), (1, 2, 3, 4)),
    window_sizes=3,
    mlp_ratios=2)


def hrformer_s_ocrnet(**head_kwargs):
    """HRFormer-S + FCN/OCR cascade with 64-channel heads and 7 classes (BN,
    whole-image test); ``head_kwargs`` go to both heads."""
    def head(**kwargs):
        return dict(in_channels=[32, 64, 128, 256], in_index=(0, 1, 2, 3),
                    input_transform='resize_concat', channels=64,
                    num_classes=7, norm_cfg=dict(type='BN'),
                    align_corners=False, **head_kwargs, **kwargs)

    return MODELS.build(dict(
        type='CascadeEncoderDecoder',
        num_stages=2,
        backbone=dict(type='HRFormer', arch='small'),
        decode_head=dict(
            fcn=head(type='FCNHead', num_convs=1, kernel_size=3,
                     concat_input=False, dropout_ratio=-1),
            ocr=head(type='OCRHead', ocr_channels=32)),
        test_cfg=dict(mode='whole')))
