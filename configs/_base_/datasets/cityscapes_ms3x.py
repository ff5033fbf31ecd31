# Cityscapes with the multi-scale + flip test of the released HRFormer
# models: 0.75, 1 and 1.25 times 2048x1024, with and without flip.
_base_ = ['./cityscapes.py']
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in (0.75, 1.0, 1.25)],
            [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
             dict(type='RandomFlip', prob=1.0, direction='horizontal')],
            [dict(type='LoadAnnotations', num_classes=19)],
            [dict(type='PackSegInputs')],
        ]),
]
