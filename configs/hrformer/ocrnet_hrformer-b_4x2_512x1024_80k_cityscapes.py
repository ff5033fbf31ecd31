# HRFormer-B + OCR on Cityscapes: 4 GPUs x 2 images, 512x1024 crops, 80k iterations.
# Reference (MMSeg PR #1382): 82.07 mIoU, 82.69 ms+flip.
# The S config with the base backbone: only scalars differ.
_base_ = [
    '../_base_/models/ocrnet_hrformer-s.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_80k.py',
]
crop_size = (512, 1024)
# ImageNet weights converted from the official checkpoint:
#   python tools/model_converters/convert_hrformer.py \
#       hrt_base.pth pretrained/hrformer_base_imagenet.pth
pretrained = 'pretrained/hrformer_base_imagenet.pth'
in_channels = [78, 156, 312, 624]
ohem = dict(type='OHEMPixelSampler', thresh=0.9, min_kept=100000)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        fcn=dict(in_channels=in_channels, sampler=ohem),
        ocr=dict(in_channels=in_channels, sampler=ohem)))
train_dataloader = dict(batch_size=2)
