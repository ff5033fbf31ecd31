# The released HRFormer-B (window 13) + OCR model on ADE20K (150 classes).
# Official result: 48.7 mIoU, 50.0 ms+flip; tested on images at their original size.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-b-w13_ade20k.pth
# Training from the ImageNet weights: 4 GPUs x 4 images, the official recipe.
_base_ = ['./ocrnet_hrformer-b_ade20k.py']
model = dict(backbone=dict(window_sizes=13))
