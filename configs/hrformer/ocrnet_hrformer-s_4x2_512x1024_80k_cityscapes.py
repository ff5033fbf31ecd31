# HRFormer-S + OCR on Cityscapes: 4 GPUs x 2 images, 512x1024 crops, 80k iterations.
# Reference (MMSeg PR #1382): 80.68 mIoU, 81.65 ms+flip.
_base_ = [
    '../_base_/models/ocrnet_hrformer-s.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_80k.py',
]
crop_size = (512, 1024)
# ImageNet weights converted from the official checkpoint:
#   python tools/model_converters/convert_hrformer.py \
#       hrt_small.pth pretrained/hrformer_small_imagenet.pth
pretrained = 'pretrained/hrformer_small_imagenet.pth'
ohem = dict(type='OHEMPixelSampler', thresh=0.9, min_kept=100000)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(fcn=dict(sampler=ohem), ocr=dict(sampler=ohem)))
train_dataloader = dict(batch_size=2)
