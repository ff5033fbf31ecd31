# The released HRFormer-S + OCR model on Cityscapes (19 classes).
# Official result: 80.0 mIoU, 81.0 ms+flip; tested on whole 2048x1024 images.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-s_cityscapes.pth
# Training from the ImageNet weights: 4 GPUs x 2 images, the official recipe.
_base_ = [
    '../../_base_/models/ocrnet_hrformer-s_official.py',
    '../../_base_/datasets/cityscapes_ms3x.py',
    '../../_base_/default_runtime.py',
    '../../_base_/schedules/schedule_80k.py',
]
crop_size = (512, 1024)
pretrained = 'pretrained/hrformer_small_imagenet.pth'
ohem = dict(type='OHEMPixelSampler', thresh=0.9, min_kept=100000)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='small',
        window_sizes=7,
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        fcn=dict(sampler=ohem, num_classes=19),
        ocr=dict(sampler=ohem, num_classes=19)))
train_dataloader = dict(batch_size=2)
