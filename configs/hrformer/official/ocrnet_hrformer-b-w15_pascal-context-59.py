# The released HRFormer-B (window 15) + OCR model on PASCAL-Context (59 classes).
# Official result: 57.6 mIoU; tested on images at their original size.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-b-w15_pascal-context-59.pth
# Training from the ImageNet weights: 4 GPUs x 4 images, the official recipe.
_base_ = [
    '../../_base_/models/ocrnet_hrformer-s_official.py',
    '../../_base_/datasets/pascal_context_59.py',
    '../../_base_/default_runtime.py',
    '../../_base_/schedules/schedule_60k.py',
]
crop_size = (520, 520)
pretrained = 'pretrained/hrformer_base_imagenet.pth'
in_channels = [78, 156, 312, 624]
model = dict(
    data_preprocessor=dict(
        size=crop_size,
        # the official test pads the image to a multiple of 8 (right, bottom)
        test_cfg=dict(size_divisor=8)),
    backbone=dict(
        arch='base',
        window_sizes=15,
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        fcn=dict(in_channels=in_channels, num_classes=59),
        ocr=dict(in_channels=in_channels, num_classes=59)))
train_dataloader = dict(batch_size=4)
# the heads learn at 10x the backbone's rate, as in the official scripts
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys=dict(decode_head=dict(lr_mult=10.0))))
