# The released HRFormer-B + OCR model on Cityscapes (19 classes).
# Official result: 81.4 mIoU, 82.0 ms+flip; tested on whole 2048x1024 images.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-b_cityscapes.pth
# Training from the ImageNet weights: 4 GPUs x 2 images, the official recipe.
_base_ = ['./ocrnet_hrformer-s_cityscapes.py']
in_channels = [78, 156, 312, 624]
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint='pretrained/hrformer_base_imagenet.pth')),
    decode_head=dict(
        fcn=dict(in_channels=in_channels),
        ocr=dict(in_channels=in_channels)))
