# The released HRFormer-B (window 15) + OCR model on PASCAL-Context (59 classes).
# Official result: 57.6 mIoU; tested on images at their original size.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-b-w15_pascal-context-59.pth
# Training from the ImageNet weights: 4 GPUs x 4 images, the official recipe.
_base_ = ['./ocrnet_hrformer-b_pascal-context-59.py']
model = dict(backbone=dict(window_sizes=15))
