# HRFormer-B + OCR on Cityscapes: 4 GPUs x 2 images, 512x1024 crops, 80k iterations.
# Reference (MMSeg PR #1382): 82.07 mIoU, 82.69 ms+flip.
_base_ = './ocrnet_hrformer-s_4x2_512x1024_80k_cityscapes.py'
pretrained = 'pretrained/hrformer_base_imagenet.pth'
in_channels = [78, 156, 312, 624]
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        fcn=dict(in_channels=in_channels), ocr=dict(in_channels=in_channels)))
