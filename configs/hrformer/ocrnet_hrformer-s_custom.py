# HRFormer-S + OCR on your own folder of images and masks (README "Train on
# your own data", docs/own_data.md): 1 GPU x 4 images, 512x512 crops, the
# 8k-iteration fine-tuning schedule. A user config inherits this file and
# sets data_root and metainfo=dict(classes=...); the number of classes
# comes from there.
_base_ = [
    '../_base_/models/ocrnet_hrformer-s.py',
    '../_base_/datasets/folder.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_finetune_8k.py',
]
crop_size = (512, 512)
# ImageNet weights converted from the official checkpoint:
#   python tools/model_converters/convert_hrformer.py \
#       hrt_small.pth pretrained/hrformer_small_imagenet.pth
# To start from a Cityscapes model instead, set load_from to it and
# model.backbone.init_cfg to None: everything but the classifiers loads.
pretrained = 'pretrained/hrformer_small_imagenet.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(fcn=dict(num_classes=None), ocr=dict(num_classes=None)))
