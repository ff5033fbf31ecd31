# Your own data (FolderSegDataset): DATA_ROOT/images/{train,val}/NAME.jpg|png
# and DATA_ROOT/annotations/{train,val}/NAME.png, one channel, a class index
# per pixel, 255 ignored. The classes are named once, in `metainfo` (a user
# config sets it, see README "Train on your own data"); every num_classes of
# the config is None here and gets their number when the config is loaded.
dataset_type = 'FolderSegDataset'
data_root = 'data/my_dataset'
metainfo = dict(classes=None)  # e.g. ('background', 'crack'), palette optional
crop_size = (512, 512)
# images are tested, and trained around, this size (long x short side)
test_scale = (2048, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', num_classes=None),
    dict(
        type='RandomResize',
        scale=test_scale,
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadAnnotations', num_classes=None),
    dict(type='PackSegInputs'),
]
# multi-scale + flip test (tools/test.py --tta): 0.75, 1 and 1.25 times the
# test size; predictions and metrics at the original image size
img_ratios = [0.75, 1.0, 1.25]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize',
                  scale=(int(test_scale[0] * r), int(test_scale[1] * r)),
                  keep_ratio=True) for r in img_ratios],
            [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
             dict(type='RandomFlip', prob=1.0, direction='horizontal')],
            [dict(type='LoadAnnotations', num_classes=None)],
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
        metainfo=metainfo,
        reduce_zero_label=False,
        data_prefix=dict(
            img_path='images/train', seg_map_path='annotations/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        reduce_zero_label=False,
        data_prefix=dict(
            img_path='images/val', seg_map_path='annotations/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
