# Test-server submission for HRFormer-S + OCR: predicts the Cityscapes test split
# (no labels) and writes Cityscapes labelIds PNGs plus a zip to upload:
#   python tools/test.py configs/hrformer/ocrnet_hrformer-s_4x2_512x1024_80k_cityscapes-test-server.py CKPT [--tta]
_base_ = './ocrnet_hrformer-s_4x2_512x1024_80k_cityscapes.py'
tta_pipeline = {{_base_.test_server_tta_pipeline}}
test_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img_path='leftImg8bit/test', seg_map_path=None),
        pipeline={{_base_.test_server_pipeline}}))
test_evaluator = dict(
    _delete_=True,
    type='CityscapesMetric',
    format_only=True,
    zip_results=True,
    output_dir='work_dirs/cityscapes_test_server')
