"""BF16AmpOptimWrapper: bf16 forward, float32 weights, the NaN guard."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper

import hrformer_seg  # noqa: F401  (registers the wrapper)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.seen = []

    def forward(self, x):
        y = self.conv(x)
        self.seen.append(y.dtype)
        return y.float().square().mean()


def _wrapper(net):
    return build_optim_wrapper(net, dict(
        type='BF16AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.1)))


def test_forward_in_bf16_weights_and_gradients_in_float32():
    torch.manual_seed(0)
    net = Net()
    wrapper = _wrapper(net)
    before = net.conv.weight.detach().clone()
    x = torch.randn(2, 3, 8, 8)
    with wrapper.optim_context(net):
        loss = net(x)
    assert net.seen == [torch.bfloat16]
    assert not torch.is_autocast_enabled('cpu')  # backward runs outside
    wrapper.update_params(loss)
    assert net.conv.weight.dtype == torch.float32
    assert not torch.equal(net.conv.weight, before)
    assert not wrapper.skipped_nonfinite


def test_step_matches_float32_up_to_bf16_rounding():
    torch.manual_seed(0)
    nets = [Net(), Net()]
    nets[1].load_state_dict(nets[0].state_dict())
    x = torch.randn(2, 3, 8, 8)
    wrapper = _wrapper(nets[0])
    with wrapper.optim_context(nets[0]):
        loss_bf16 = nets[0](x)
    wrapper.update_params(loss_bf16)
    plain = build_optim_wrapper(nets[1], dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    loss_fp32 = nets[1](x)
    plain.update_params(loss_fp32)
    assert nets[1].seen == [torch.float32]
    rel = (loss_bf16 - loss_fp32).abs() / loss_fp32.abs()
    assert rel < 2e-2
    step_bf16 = nets[0].conv.weight.detach()
    step_fp32 = nets[1].conv.weight.detach()
    assert not torch.equal(step_bf16, step_fp32)
    assert torch.allclose(step_bf16, step_fp32, rtol=0, atol=2e-2)


def test_non_finite_loss_is_not_applied():
    net = Net()
    wrapper = _wrapper(net)
    before = net.conv.weight.detach().clone()
    with wrapper.optim_context(net):
        loss = net(torch.full((1, 3, 4, 4), float('nan')))
    wrapper.update_params(loss)
    assert wrapper.skipped_nonfinite
    assert torch.equal(net.conv.weight, before)


def test_float16_is_refused_with_the_reason():
    with pytest.raises(ValueError, match='loss scaling'):
        build_optim_wrapper(Net(), dict(
            type='BF16AmpOptimWrapper', dtype='float16',
            optimizer=dict(type='SGD', lr=0.1)))
