"""WinogradConv2d: NNPACK's Winograd path against torch's convolution."""
import copy

import pytest
import torch
from mmcv.cnn import build_conv_layer
from mmengine.registry import DefaultScope
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from hrformer_seg.models.decode_heads import FCNHead, OCRHead
from hrformer_seg.models.layers import WinogradConv2d
from hrformer_seg.models.layers.winograd_conv import nnpack_available
from hrformer_seg.models.utils import fold_batch_norms
from tests.helpers.tiny_hrformer import hrformer_s_ocrnet

needs_nnpack = pytest.mark.skipif(
    not nnpack_available(), reason='torch without NNPACK on this CPU')


class NnpackCalls(TorchDispatchMode):

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._nnpack_spatial_convolution.default:
            self.calls += 1
        return func(*args, **(kwargs or {}))


def _pair(in_channels, out_channels, bias=True, **kwargs):
    fast = WinogradConv2d(in_channels, out_channels, 3, bias=bias, **kwargs)
    plain = nn.Conv2d(in_channels, out_channels, 3, bias=bias, **kwargs)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@needs_nnpack
@pytest.mark.parametrize('batch,bias,channels_last', [
    (1, True, False), (3, True, False), (2, False, False), (2, True, True)])
def test_forward_and_gradients_match_the_direct_convolution(
        batch, bias, channels_last):
    torch.manual_seed(0)
    fast, plain = _pair(24, 40, bias=bias, padding=1)
    x = torch.randn(batch, 24, 13, 18)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x_fast = x.clone().requires_grad_()
    x_plain = x.clone().requires_grad_()
    calls = NnpackCalls()
    with calls:
        out = fast(x_fast)
    assert calls.calls == batch  # one Winograd call per image
    ref = plain(x_plain)
    assert out.shape == ref.shape == (batch, 40, 13, 18)
    assert _rel(out, ref) < 1e-4
    assert not torch.equal(out, ref)  # a different algorithm ran

    grad = torch.randn_like(ref)
    out.backward(grad)
    ref.backward(grad)
    assert _rel(x_fast.grad, x_plain.grad) < 1e-4
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad)
    if bias:
        torch.testing.assert_close(fast.bias.grad, plain.bias.grad)


@needs_nnpack
def test_only_input_gradient_or_only_weight_gradient():
    fast, plain = _pair(8, 8, padding=1)
    fast.requires_grad_(False)
    plain.requires_grad_(False)
    x = torch.randn(2, 8, 9, 9, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    fast(x).sum().backward()
    plain(x2).sum().backward()
    assert _rel(x.grad, x2.grad) < 1e-4

    fast.requires_grad_(True)
    plain.requires_grad_(True)
    y = torch.randn(2, 8, 9, 9)
    fast(y).square().sum().backward()
    plain(y).square().sum().backward()
    assert _rel(fast.weight.grad, plain.weight.grad) < 1e-4


@pytest.mark.parametrize('kwargs,dtype', [
    (dict(padding=1, stride=2), torch.float32),
    (dict(padding=2, dilation=2), torch.float32),
    (dict(padding=1, groups=4), torch.float32),
    (dict(padding=0), torch.float32),
    (dict(padding=1, padding_mode='reflect'), torch.float32),
    (dict(padding=1), torch.float64),
])
def test_other_convolutions_fall_back_to_torch(kwargs, dtype):
    fast, plain = _pair(8, 8, **kwargs)
    fast.to(dtype)
    plain.to(dtype)
    x = torch.randn(2, 8, 10, 11, dtype=dtype)
    assert not fast.uses_winograd(x)
    calls = NnpackCalls()
    with calls:
        out = fast(x)
    assert calls.calls == 0
    assert torch.equal(out, plain(x))


def test_autocast_1x1_and_nnpack_switched_off_fall_back():
    fast = WinogradConv2d(8, 8, 3, padding=1)
    x = torch.randn(1, 8, 6, 6)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert not fast.uses_winograd(x)
        assert fast(x).dtype == torch.bfloat16
    assert not WinogradConv2d(8, 8, 1).uses_winograd(x)
    # torch's own switch for NNPACK is respected
    with torch.backends.nnpack.flags(enabled=False):
        assert not fast.uses_winograd(x)
        calls = NnpackCalls()
        with calls:
            fast(x)
        assert calls.calls == 0
    assert fast.uses_winograd(x) == nnpack_available()


def test_state_dict_is_that_of_conv2d():
    fast, plain = _pair(4, 6, padding=1)
    assert fast.state_dict().keys() == plain.state_dict().keys()
    assert isinstance(fast, nn.Conv2d)


def test_a_conv_type_of_mmcv_with_or_without_default_scope():
    cfg = dict(type='WinogradConv2d')
    assert type(build_conv_layer(cfg, 4, 6, 3)) is WinogradConv2d
    with DefaultScope.overwrite_default_scope('hrformer_seg'):
        assert type(build_conv_layer(cfg, 4, 6, 3)) is WinogradConv2d


def _heads(**kwargs):
    common = dict(in_channels=[8, 16], in_index=(0, 1),
                  input_transform='resize_concat', channels=16,
                  num_classes=5, norm_cfg=dict(type='BN'), **kwargs)
    return (FCNHead(num_convs=2, kernel_size=3, concat_input=True,
                    **common),
            OCRHead(ocr_channels=8, **common))


def test_heads_use_it_only_when_their_conv_cfg_asks():
    for head in _heads():  # off by default
        assert not any(isinstance(m, WinogradConv2d) for m in head.modules())
    fcn, ocr = _heads(conv_cfg=dict(type='WinogradConv2d'))
    assert [type(m.conv) for m in fcn.convs] == [WinogradConv2d] * 2
    assert type(fcn.conv_cat.conv) is WinogradConv2d
    assert type(ocr.bottleneck.conv) is WinogradConv2d
    # the 1x1 convolutions too (there it is nn.Conv2d's computation),
    # the OCR fusion included; the classifiers stay nn.Conv2d
    block = ocr.object_context_block
    assert type(block.bottleneck.conv) is WinogradConv2d
    assert type(block.query_project[0].conv) is WinogradConv2d
    assert type(fcn.conv_seg) is type(ocr.conv_seg) is nn.Conv2d


@needs_nnpack
def test_ocrnet_predictions_match_plain_convolutions_also_bn_folded():
    torch.manual_seed(0)
    plain = hrformer_s_ocrnet().eval()
    fast = hrformer_s_ocrnet(conv_cfg=dict(type='WinogradConv2d')).eval()
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        ref = plain(x, mode='tensor')
        out = fast(x, mode='tensor')
        folded = copy.deepcopy(fast)
        fold_batch_norms(folded)
        assert sum(isinstance(m, WinogradConv2d) and m.kernel_size == (3, 3)
                   for m in folded.modules()) == 2
        out_folded = folded(x, mode='tensor')
    for result in (out, out_folded):
        assert _rel(result, ref) < 1e-4
        agree = (result.argmax(1) == ref.argmax(1)).float().mean().item()
        assert agree > 0.999, agree


def test_tracing_sees_a_plain_convolution():
    fast, plain = _pair(4, 6, padding=1)
    x = torch.randn(1, 4, 7, 9)
    traced = torch.jit.trace(fast, x)
    graph = str(traced.graph)
    assert '_convolution' in graph and 'PythonOp' not in graph
    torch.testing.assert_close(traced(x), plain(x))
