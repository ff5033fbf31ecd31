# The released HRFormer-S + OCR model on COCO-Stuff-10K (171 classes).
# Official result: 37.9 mIoU; tested on images at their original size.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-s_coco-stuff.pth
# Training from the ImageNet weights: 4 GPUs x 4 images, the official recipe.
_base_ = [
    '../../_base_/models/ocrnet_hrformer-s_official.py',
    '../../_base_/datasets/coco-stuff10k.py',
    '../../_base_/default_runtime.py',
    '../../_base_/schedules/schedule_60k.py',
]
crop_size = (520, 520)
pretrained = 'pretrained/hrformer_small_imagenet.pth'
ohem = dict(type='OHEMPixelSampler', thresh=0.9, min_kept=100000)
model = dict(
    data_preprocessor=dict(
        size=crop_size,
        # the official test pads the image to a multiple of 8 (right, bottom)
        test_cfg=dict(size_divisor=8)),
    backbone=dict(
        arch='small',
        window_sizes=7,
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        fcn=dict(sampler=ohem, num_classes=171),
        ocr=dict(sampler=ohem, num_classes=171)))
train_dataloader = dict(batch_size=4)
# the heads learn at 10x the backbone's rate, as in the official scripts
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys=dict(decode_head=dict(lr_mult=10.0))))
