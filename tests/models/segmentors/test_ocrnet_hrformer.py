"""HRFormer-S/B + FCN + OCR: parameter counts and output size."""
import pytest
import torch

from hrformer_seg.registry import MODELS

S_CHANNELS = [32, 64, 128, 256]
B_CHANNELS = [78, 156, 312, 624]


def _hrformer_registered() -> bool:
    try:
        MODELS.get('HRFormer')
    except Exception:  # noqa: BLE001 - a half-written backbone fails to import
        return False
    return MODELS.get('HRFormer') is not None


pytestmark = pytest.mark.skipif(
    not _hrformer_registered(),
    reason='the HRFormer backbone (models/backbones/hrformer.py) is not '
    'registered yet')


def _ocrnet(arch: str, in_channels, num_classes: int = 19):
    def head(**kwargs):
        return dict(in_channels=in_channels, in_index=(0, 1, 2, 3),
                    input_transform='resize_concat', channels=512,
                    num_classes=num_classes, norm_cfg=dict(type='BN'),
                    align_corners=False, **kwargs)

    return MODELS.build(dict(
        type='CascadeEncoderDecoder',
        num_stages=2,
        backbone=dict(type='HRFormer', arch=arch),
        decode_head=dict(
            fcn=head(type='FCNHead', num_convs=1, kernel_size=3,
                     concat_input=False, dropout_ratio=-1,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      loss_weight=0.4)),
            ocr=head(type='OCRHead', ocr_channels=256)),
        test_cfg=dict(mode='whole')))


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_parameter_count_hrformer_s():
    # official code: 13,523,856 including 3,328 conv biases before BN that
    # this implementation (like MMSegmentation) leaves out
    assert _count(_ocrnet('small', S_CHANNELS)) == 13_520_528


def test_parameter_count_hrformer_b():
    # official code: 56,032,512 with the same 3,328 biases
    assert _count(_ocrnet('base', B_CHANNELS)) == 56_029_184


def test_logits_at_input_size_for_odd_sizes():
    model = _ocrnet('small', S_CHANNELS, num_classes=5)
    model.eval()
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, 45, 77))
    assert out[0].seg_logits.data.shape == (5, 45, 77)
    assert out[0].pred_sem_seg.data.shape == (1, 45, 77)
    assert torch.isfinite(out[0].seg_logits.data).all()
