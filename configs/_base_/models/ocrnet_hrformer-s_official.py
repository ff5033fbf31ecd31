# HRFormer-S + OCR computing what the released HRFormer segmentation models
# compute (docs/official_models.md):
# - the images stay in BGR order, normalised with the ImageNet mean and std
#   listed in RGB order, as the official training scripts fed them;
# - every bilinear resize with align_corners=True (the branch concatenation
#   and the final upsampling);
# - Dropout2d(0.05) before the OCR classifier.
# The official heads' conv biases before a BN are folded into that BN by the
# converter, so the layers are those of ocrnet_hrformer-s.py.
_base_ = ['./ocrnet_hrformer-s.py']
model = dict(
    data_preprocessor=dict(bgr_to_rgb=False),
    decode_head=dict(
        fcn=dict(align_corners=True),
        ocr=dict(align_corners=True, dropout_ratio=0.05)))
