"""The model under bf16 autocast and in channels-last layout, against the
float32 NCHW computation."""
import pytest
import torch

from hrformer_seg.models.utils import memory_format as mf
from hrformer_seg.registry import MODELS
from tests.helpers.segmentors import sample_with_label
from tests.helpers.tiny_hrformer import TINY

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def _model(memory_format='contiguous', seed=0):
    channels = [8, 16, 24, 32]

    def head(**kwargs):
        return dict(in_channels=channels, in_index=(0, 1, 2, 3),
                    input_transform='resize_concat', channels=16,
                    num_classes=5, norm_cfg=dict(type='BN'),
                    align_corners=False, dropout_ratio=-1, **kwargs)

    torch.manual_seed(seed)
    return MODELS.build(dict(
        type='CascadeEncoderDecoder', num_stages=2,
        memory_format=memory_format,
        data_preprocessor=dict(type='SegDataPreProcessor', pad_val=0,
                               seg_pad_val=255),
        backbone=dict(type='HRFormer', drop_path_rate=0.0, **TINY),
        decode_head=dict(
            fcn=head(type='FCNHead', num_convs=1, kernel_size=3,
                     concat_input=False),
            ocr=head(type='OCRHead', ocr_channels=8))))


def _conv_weights(model):
    return [m.weight for m in model.modules()
            if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1)
            and m.weight.shape[1] > 1]  # else both layouts coincide


def test_channels_last_model_computes_the_nchw_function():
    nchw, nhwc = _model('contiguous'), _model('channels_last')
    assert all(not w.is_contiguous() for w in _conv_weights(nhwc))
    assert all(w.is_contiguous() for w in _conv_weights(nchw))
    nhwc.load_state_dict(nchw.state_dict())  # checkpoints are layout-free
    x = torch.randn(2, 3, 48, 64)
    nchw.eval(), nhwc.eval()
    with torch.no_grad():
        ref, out = nchw(x, mode='tensor'), nhwc(x, mode='tensor')
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_auto_layout_follows_the_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.backends.cpu, 'get_cpu_capability',
                        lambda: 'AVX512')
    assert mf.channels_last_weights('auto')
    assert _model('auto').channels_last
    monkeypatch.setattr(torch.backends.cpu, 'get_cpu_capability',
                        lambda: 'AVX2')
    assert not mf.channels_last_weights('auto')
    assert not _model('auto').channels_last
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert not mf.channels_last_weights('auto')
    assert mf.channels_last_weights('channels_last')
    assert not mf.channels_last_weights('contiguous')


def test_inputs_go_channels_last_under_cpu_autocast():
    x = torch.randn(1, 3, 8, 8)
    assert mf.input_layout(x, 'auto', False) is x
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = mf.input_layout(x, 'auto', False)
        assert mf.input_layout(x, 'contiguous', False) is x
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert mf.input_layout(x, 'auto', True).is_contiguous(
        memory_format=torch.channels_last)


def test_unknown_memory_format_names_the_setting():
    with pytest.raises(ValueError, match="memory_format.*'nhwc'"):
        _model('nhwc')


@pytest.mark.parametrize('memory_format', ['contiguous', 'channels_last'])
def test_bf16_inference_agrees_with_float32(memory_format):
    model = _model(memory_format, seed=1).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        ref = model(x, mode='tensor')
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = model(x, mode='tensor')
    assert out.dtype == torch.bfloat16  # the heads ran in bf16
    err = (out.float() - ref).abs().mean() / ref.abs().mean()
    assert 0 < err < 0.03, err
    agree = (out.argmax(1) == ref.argmax(1)).float().mean()
    assert agree > 0.9, agree


def test_bf16_training_step_agrees_with_float32():
    models = [_model('contiguous', seed=2).train() for _ in range(2)]
    x = torch.randn(2, 3, 64, 96)
    gen = torch.Generator().manual_seed(0)
    samples = [sample_with_label(torch.randint(0, 5, (64, 96),
                                               generator=gen),
                                 img_shape=(64, 96), pad_shape=(64, 96))
               for _ in range(2)]
    losses = []
    for model, dtype in zip(models, (torch.float32, torch.bfloat16)):
        with torch.autocast('cpu', dtype=torch.bfloat16,
                            enabled=dtype is torch.bfloat16):
            loss = model(x, samples, mode='loss')
        total = sum(v for k, v in loss.items() if 'loss' in k)
        assert total.dtype == torch.float32  # losses stay float32
        total.backward()
        losses.append(total.detach())
    assert abs(losses[1] - losses[0]) / losses[0] < 0.02
    # the classifiers' gradients (the best conditioned at random init; deep
    # in the network bf16 rounding dominates gradients of 1e-7)
    for name in ('decode_head.0.conv_seg.weight',
                 'decode_head.1.conv_seg.weight'):
        grads = [dict(m.named_parameters())[name].grad for m in models]
        assert grads[1].dtype == torch.float32  # float32 master weights
        cosine = torch.nn.functional.cosine_similarity(
            grads[0].flatten(), grads[1].flatten(), dim=0)
        assert cosine > 0.99, (name, cosine)
    norms = [torch.cat([p.grad.flatten() for p in m.parameters()
                        if p.grad is not None]).norm() for m in models]
    assert abs(norms[1] - norms[0]) / norms[0] < 0.1


def test_ocr_region_attention_stays_float32_under_autocast():
    """The OCR head's softmax over all pixels (region gathering) and its
    pixel-region attention run in float32 inside bf16 autocast."""
    from hrformer_seg.models.decode_heads.ocr_head import (
        ObjectAttentionBlock,
        SpatialGather,
    )
    torch.manual_seed(0)
    feats = torch.randn(2, 16, 24, 32)
    logits = torch.randn(2, 5, 24, 32) * 4
    gather = SpatialGather()
    ref = gather(feats, logits)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = gather(feats.bfloat16(), logits.bfloat16())
    assert out.dtype == torch.float32
    # only the inputs' rounding to bf16 differs
    torch.testing.assert_close(out, gather(feats.bfloat16().float(),
                                           logits.bfloat16().float()))
    assert (out - ref).abs().max() < 0.05 * ref.abs().max()

    block = ObjectAttentionBlock(16, 8, norm_cfg=dict(type='BN')).eval()
    seen = {}

    def record(name):
        def hook(module, args, out=None):
            seen[name] = (args[0] if out is None else out).dtype
        return hook

    block.out_project.register_forward_pre_hook(record('context'))
    block.key_project.register_forward_hook(record('key'))
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        fused = block(feats, ref)
    assert seen == {'key': torch.float32, 'context': torch.float32}
    assert fused.dtype == torch.bfloat16  # the per-pixel convolutions
