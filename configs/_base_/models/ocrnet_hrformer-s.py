# HRFormer-S + OCR: a cascade of an FCN auxiliary head and the OCR head.
# Variants override scalars (e.g. model.decode_head.ocr.in_channels), never
# restate the heads: the heads are a dict of named stages, run in order.
norm_cfg = dict(type='SyncBN', requires_grad=True)
# activation_memory, what a training step keeps for backward, for the whole
# model: 'full' everything (plain autograd, the reference computation);
# 'lean' only dense conv / attention outputs, norms and activations are
# recomputed (same gradients, about half the memory); 'checkpoint' recompute
# everything (least memory, slower; on a CPU add
# env_cfg.malloc_mmap_threshold=1048576, see README.md). A part may set its
# own, e.g. model.decode_head.ocr.activation_memory='checkpoint'.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
# what the two heads share
head_common = dict(
    in_channels=[32, 64, 128, 256],
    in_index=(0, 1, 2, 3),
    input_transform='resize_concat',
    channels=512,
    dropout_ratio=-1,
    num_classes=19,
    norm_cfg=norm_cfg,
    align_corners=False)
model = dict(
    type='CascadeEncoderDecoder',
    num_stages=2,
    data_preprocessor=data_preprocessor,
    activation_memory='full',
    backbone=dict(
        type='HRFormer',
        arch='small',
        in_channels=3,
        norm_cfg=norm_cfg,
        drop_path_rate=0.2),
    decode_head=dict(
        fcn=dict(
            type='FCNHead',
            **head_common,
            num_convs=1,
            kernel_size=3,
            concat_input=False,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
        ocr=dict(
            type='OCRHead',
            **head_common,
            ocr_channels=256,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
