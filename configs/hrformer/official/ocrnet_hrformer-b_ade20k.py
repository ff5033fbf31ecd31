# The released HRFormer-B + OCR model on ADE20K (150 classes).
# Official result: 46.3 mIoU, 47.6 ms+flip; tested on images at their original size.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-b_ade20k.pth
# Training from the ImageNet weights: 4 GPUs x 4 images, the official recipe.
_base_ = [
    '../../_base_/models/ocrnet_hrformer-s_official.py',
    '../../_base_/datasets/ade20k.py',
    '../../_base_/default_runtime.py',
    '../../_base_/schedules/schedule_150k.py',
]
crop_size = (520, 520)
pretrained = 'pretrained/hrformer_base_imagenet.pth'
in_channels = [78, 156, 312, 624]
ohem = dict(type='OHEMPixelSampler', thresh=0.9, min_kept=100000)
model = dict(
    data_preprocessor=dict(
        size=crop_size,
        # the official test pads the image to a multiple of 8 (right, bottom)
        test_cfg=dict(size_divisor=8)),
    backbone=dict(
        arch='base',
        window_sizes=7,
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        fcn=dict(in_channels=in_channels, sampler=ohem, num_classes=150),
        ocr=dict(in_channels=in_channels, sampler=ohem, num_classes=150)))
train_dataloader = dict(batch_size=4)
