# The released HRFormer-B + OCR model on ADE20K (150 classes).
# Official result: 46.3 mIoU, 47.6 ms+flip; tested on images at their original size.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-b_ade20k.pth
# Training from the ImageNet weights: 4 GPUs x 4 images, the official recipe.
_base_ = ['./ocrnet_hrformer-s_ade20k.py']
in_channels = [78, 156, 312, 624]
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint='pretrained/hrformer_base_imagenet.pth')),
    decode_head=dict(
        fcn=dict(in_channels=in_channels),
        ocr=dict(in_channels=in_channels)))
