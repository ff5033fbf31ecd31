# Cityscapes (fine annotations, 19 train classes) with the HRFormer + OCR
# pipelines of docs/training_recipe.md. Labels: *_gtFine_labelTrainIds.png
# made by
# `python tools/dataset_converters/cityscapes.py data/cityscapes --nproc 8`.
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes/'
crop_size = (512, 1024)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', num_classes=19),
    dict(
        type='RandomResize',
        scale=(2048, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    # load annotations after resizing: metrics compare at the original size
    dict(type='LoadAnnotations', num_classes=19),
    dict(type='PackSegInputs'),
]
# multi-scale + flip test (tools/test.py --tta): each scale relative to the
# original 2048x1024 image, with and without horizontal flip
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in img_ratios],
            [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
             dict(type='RandomFlip', prob=1.0, direction='horizontal')],
            [dict(type='LoadAnnotations', num_classes=19)],
            [dict(type='PackSegInputs')],
        ]),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# The test split has no labels: the test-server configs predict it with these
# pipelines and write Cityscapes labelIds PNGs (CityscapesMetric, format_only).
test_server_pipeline = [
    step for step in test_pipeline if step['type'] != 'LoadAnnotations'
]
test_server_tta_pipeline = [
    tta_pipeline[0],
    dict(
        type='TestTimeAug',
        transforms=[
            views for views in tta_pipeline[1]['transforms']
            if views[0]['type'] != 'LoadAnnotations'
        ]),
]
