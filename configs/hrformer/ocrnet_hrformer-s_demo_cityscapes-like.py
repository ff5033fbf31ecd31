# The README's demo: HRFormer-S + OCR trained from scratch on the generated
# Cityscapes-format dataset (tools/dataset_converters/generate_cityscapes_like.py,
# made by `make demo` without walls and fences) on a CPU in minutes. Same model
# as the Cityscapes config; whole 128x256 images, plain BN, no OHEM, no drop
# path, a larger learning rate and a short schedule fixed in iterations (not
# in time), so results do not depend on the machine's speed.
_base_ = [
    '../_base_/models/ocrnet_hrformer-s.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_80k.py',
]
data_root = 'data/cityscapes_like/'
crop_size = (128, 256)
max_iters = 185
norm_cfg = dict(type='BN', requires_grad=True)
# 2x128x256 crops need about 1 GiB: activation_memory='full' (nothing
# recomputed); 'lean' would save memory the demo does not need, and its
# per-operator bookkeeping costs more here than at full-size crops.
# CPU only: the heads' 3x3 convolutions through NNPACK's Winograd kernels
# (WinogradConv2d; on a GPU it is a plain convolution).
winograd = dict(type='WinogradConv2d')
model = dict(
    data_preprocessor=dict(size=crop_size),
    activation_memory='full',
    backbone=dict(norm_cfg=norm_cfg, drop_path_rate=0.0),
    decode_head=dict(
        fcn=dict(norm_cfg=norm_cfg, conv_cfg=winograd),
        ocr=dict(norm_cfg=norm_cfg, conv_cfg=winograd)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', num_classes=19),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', num_classes=19),
    dict(type='PackSegInputs'),
]
# trained at one scale: for --tta, upscaling helps the thin classes and
# downscaling does not, so the scales are 1.0 and 1.25 (with flip)
img_ratios = [1.0, 1.25]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in img_ratios],
            [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
             dict(type='RandomFlip', prob=1.0, direction='horizontal')],
            [dict(type='LoadAnnotations', num_classes=19)],
            [dict(type='PackSegInputs')],
        ]),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=15),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=15,
         end=max_iters),
]
# validation (single scale) once, at the end
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
# one seed for the initial weights, data order and augmentation, so that the
# demo's result is the same on every run (mmengine draws a new seed per run
# otherwise)
randomness = dict(seed=0)
