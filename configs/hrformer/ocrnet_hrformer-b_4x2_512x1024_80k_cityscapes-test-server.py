# Test-server submission for HRFormer-B + OCR: predicts the Cityscapes test split
# (no labels) and writes Cityscapes labelIds PNGs plus a zip to upload:
#   python tools/test.py configs/hrformer/ocrnet_hrformer-b_4x2_512x1024_80k_cityscapes-test-server.py CKPT [--tta]
_base_ = './ocrnet_hrformer-b_4x2_512x1024_80k_cityscapes.py'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='PackSegInputs'),
]
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
            [dict(type='PackSegInputs')],
        ]),
]
test_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img_path='leftImg8bit/test', seg_map_path=None),
        pipeline=test_pipeline))
test_evaluator = dict(
    _delete_=True,
    type='CityscapesMetric',
    format_only=True,
    zip_results=True,
    output_dir='work_dirs/cityscapes_test_server')
