# The released HRFormer-S + OCR model on Cityscapes (19 classes); tested on
# whole 1024x2048 images. Official result: 80.0 mIoU, 81.0 ms+flip.
# Convert the released checkpoint (docs/official_models.md):
#   python tools/model_converters/convert_hrformer.py RELEASED.pth \
#       checkpoints/ocrnet_hrformer-s_cityscapes.pth
# Training from the ImageNet weights: 4 GPUs x 2 images, the official recipe.
_base_ = [
    '../../_base_/models/ocrnet_hrformer-s_official.py',
    '../../_base_/datasets/cityscapes.py',
    '../../_base_/default_runtime.py',
    '../../_base_/schedules/schedule_80k.py',
]
crop_size = (512, 1024)
pretrained = 'pretrained/hrformer_small_imagenet.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='small',
        window_sizes=7,
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        fcn=dict(num_classes=19),
        ocr=dict(num_classes=19)))
train_dataloader = dict(batch_size=2)
