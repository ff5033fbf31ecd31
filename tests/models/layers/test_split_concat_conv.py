"""SplitConcatConv: the ConvModule on a concatenation, without it."""
import pytest
import torch
from mmcv.cnn import ConvModule
from torch import nn

from hrformer_seg.models.layers import SplitConcatConv, WinogradConv2d


def _pair(in_channels, out_channels, **kwargs):
    """A SplitConcatConv and the ConvModule on the concatenation, with the
    same weights (the split one's loaded from the ConvModule's)."""
    torch.manual_seed(0)
    split = SplitConcatConv(in_channels, out_channels, **kwargs)
    plain = ConvModule(sum(in_channels), out_channels,
                       kwargs.pop('kernel_size', 1), **kwargs)
    with torch.no_grad():  # BN affine parameters away from 1 and 0
        for p in plain.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    assert split.state_dict().keys() == plain.state_dict().keys()
    split.load_state_dict(plain.state_dict())
    return split, plain


@pytest.mark.parametrize('kwargs', [
    dict(norm_cfg=dict(type='BN')),
    dict(norm_cfg=None),  # a bias, added once
    dict(norm_cfg=dict(type='BN'), order=('conv', 'act', 'norm')),
    dict(norm_cfg=dict(type='BN'), act_cfg=None),
    dict(kernel_size=3, padding=1, padding_mode='reflect',
         norm_cfg=dict(type='BN')),
    dict(norm_cfg=dict(type='BN'), conv_cfg=dict(type='WinogradConv2d')),
], ids=['bn', 'bias', 'act-norm', 'no-act', 'reflect3x3', 'winograd'])
def test_equals_the_conv_module_on_the_concatenation(kwargs):
    """Forward, input gradients, parameter gradients and BN buffers."""
    split, plain = _pair((6, 4), 5, **dict(kwargs))
    split.train()
    plain.train()
    a, b = torch.randn(2, 6, 5, 7), torch.randn(2, 4, 5, 7)
    results = []
    for module, fn in ((split, lambda x, y: split(x, y)),
                       (plain, lambda x, y: plain(torch.cat([x, y], 1)))):
        x, y = a.clone().requires_grad_(), b.clone().requires_grad_()
        out = fn(x, y)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum() \
            .backward()
        results.append([out.detach(), x.grad, y.grad]
                       + [p.grad for p in module.parameters()]
                       + list(module.buffers()))
    assert len(results[0]) == len(results[1]) >= 4
    for got, want in zip(*results):
        torch.testing.assert_close(got, want)


def test_conv_cfg_decides_the_conv_type_and_no_concatenation_is_made():
    split = SplitConcatConv((8, 8), 4, conv_cfg=dict(type='WinogradConv2d'))
    assert type(split.conv) is WinogradConv2d
    assert split.conv.weight.shape == (4, 16, 1, 1)
    cats = []

    class Cats(torch.utils._python_dispatch.TorchDispatchMode):

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten.cat.default:
                cats.append(func)
            return func(*args, **(kwargs or {}))

    with Cats():
        split(torch.randn(1, 8, 3, 3), torch.randn(1, 8, 3, 3))
    assert cats == []


def test_three_inputs_and_errors_name_the_culprit():
    split, plain = _pair((2, 3, 4), 5, norm_cfg=None, act_cfg=None)
    xs = [torch.randn(1, c, 4, 4) for c in (2, 3, 4)]
    torch.testing.assert_close(split(*xs), plain(torch.cat(xs, 1)))
    with pytest.raises(ValueError, match=r'channels \(2, 3\), built for '
                       r'\(2, 3, 4\)'):
        split(*xs[:2])
    with pytest.raises(ValueError, match='two or more'):
        SplitConcatConv((4, ), 2)
    with pytest.raises(ValueError, match='order must start with "conv"'):
        SplitConcatConv((4, 4), 2, norm_cfg=dict(type='BN'),
                        order=('norm', 'conv', 'act'))
    with pytest.raises(TypeError, match='_GroupedConv'):
        SplitConcatConv((4, 4), 2, conv_cfg=dict(type=_GroupedConv))


class _GroupedConv(nn.Conv2d):
    """A conv type whose weight does not map input channels one to one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **dict(kwargs, groups=2))


def test_tracing_sees_the_conv_module_on_the_concatenation():
    """functional_call is not traceable: traced, the layer is the
    ConvModule on torch.cat (ONNX / TorchScript export)."""
    split, plain = _pair((3, 5), 4, norm_cfg=dict(type='BN'))
    split.eval()
    plain.eval()
    a, b = torch.randn(1, 3, 6, 7), torch.randn(1, 5, 6, 7)
    traced = torch.jit.trace(split, (a, b))
    assert 'aten::cat' in str(traced.graph)
    torch.testing.assert_close(traced(a, b), plain(torch.cat([a, b], 1)))
