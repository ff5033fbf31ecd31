# HRFormer-B + OCR on your own folder of images and masks: the -S custom
# config with the base backbone (only scalars differ).
_base_ = ['./ocrnet_hrformer-s_custom.py']
# ImageNet weights converted from the official checkpoint:
#   python tools/model_converters/convert_hrformer.py \
#       hrt_base.pth pretrained/hrformer_base_imagenet.pth
pretrained = 'pretrained/hrformer_base_imagenet.pth'
in_channels = [78, 156, 312, 624]
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        fcn=dict(in_channels=in_channels), ocr=dict(in_channels=in_channels)))
