# HRFormer-S + OCR computing what the released HRFormer segmentation models
# compute (docs/official_models.md): every bilinear resize with
# align_corners=True (the branch concatenation and the final upsampling) and
# Dropout2d(0.05) before the OCR classifier. The official heads' conv biases
# before a BN are folded into that BN by the converter, so the layers are the
# same as in ocrnet_hrformer-s.py and trained models load unchanged.
_base_ = ['./ocrnet_hrformer-s.py']
model = dict(
    decode_head=dict(
        fcn=dict(align_corners=True),
        ocr=dict(align_corners=True, dropout_ratio=0.05)))
