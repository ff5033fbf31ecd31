# PASCAL-Context, 59 classes (background ignored).
# Layout: data/VOCdevkit/VOC2010/{JPEGImages,SegmentationClassContext,ImageSets/SegmentationContext}.
dataset_type = 'PascalContextDataset59'
data_root = 'data/VOCdevkit/VOC2010'
num_classes = 59
crop_size = (520, 520)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', num_classes=num_classes),
    dict(
        type='RandomResize',
        scale=(2048, 520),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
# tested at the original image size, as the released models were
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', num_classes=num_classes),
    dict(type='PackSegInputs'),
]
# multi-scale + flip test (tools/test.py --tta) at 0.75, 1 and 1.25 times the
# original size, as the released HRFormer models were evaluated
img_ratios = [0.75, 1.0, 1.25]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in img_ratios],
            [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
             dict(type='RandomFlip', prob=1.0, direction='horizontal')],
            [dict(type='LoadAnnotations', num_classes=num_classes)],
            [dict(type='PackSegInputs')],
        ]),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/SegmentationContext/train.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/SegmentationContext/val.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
