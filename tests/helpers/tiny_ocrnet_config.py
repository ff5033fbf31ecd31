# A very small HRFormer + OCR (same structure as HRFormer-S + OCR: four
# branches, transformer blocks, FCN + OCR cascade) for fast tests of the
# tools. The data root comes from the environment variable TINY_CITYSCAPES
# (the tests point it at the generated tiny Cityscapes tree).
_base_ = ['../../configs/hrformer/ocrnet_hrformer-s_demo_cityscapes-like.py']
data_root = '{{$TINY_CITYSCAPES:data/cityscapes_like/}}'
channels = [8, 16, 32, 64]
model = dict(
    data_preprocessor=dict(size=(64, 128)),
    backbone=dict(
        stem_channels=16,
        bottleneck_planes=8,
        num_bottlenecks=1,
        num_modules=(1, 1, 1),
        num_blocks=((1, 1), (1, 1, 1), (1, 1, 1, 1)),
        num_channels=((8, 16), (8, 16, 32), (8, 16, 32, 64)),
        num_heads=((1, 1), (1, 1, 1), (1, 1, 1, 1)),
        drop_path_rate=0.0),
    decode_head=dict(
        fcn=dict(in_channels=channels, channels=16),
        ocr=dict(in_channels=channels, channels=16, ocr_channels=8)))
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    **loader, dataset=dict(data_root=data_root))
val_dataloader = dict(**loader, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
