# The released HRFormer-B (window 15) + OCR model on Cityscapes (19 classes).
# Official result: 81.9 mIoU, 82.6 ms+flip; tested on whole 2048x1024 images.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-b-w15_cityscapes.pth
# Training from the ImageNet weights: 4 GPUs x 2 images, the official recipe.
_base_ = ['./ocrnet_hrformer-b_cityscapes.py']
model = dict(backbone=dict(window_sizes=15))
