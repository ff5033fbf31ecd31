"""GroupedOptimWrapperConstructor: same per-parameter settings and updates as
mmengine's DefaultOptimWrapperConstructor, in a few fused groups."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from hrformer_seg.engine import merge_param_groups

SCHEDULE = 'configs/_base_/schedules/schedule_80k.py'


class _Net(nn.Module):
    """Conv + BN + a bias table + linear: every kind of paramwise rule.

    The conv has no bias, as before a BN in the real model: a bias there gets
    gradients of rounding-noise size, which Adam's normalised step turns into
    differences of order lr between any two implementations.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.relative_position_bias_table = nn.Parameter(torch.randn(9, 2))
        self.fc = nn.Linear(8, 4)
        self.norm = nn.LayerNorm(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.conv(x)).mean((2, 3))
        # weighted, so the gradient through the norms is not ~0
        out = self.norm(self.fc(y)) * torch.linspace(-1.0, 1.0, 4)
        return out.square().sum() + \
            self.relative_position_bias_table.square().sum()


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('hrformer_seg')


def _build(model: nn.Module, grouped: bool = True, **optimizer_overrides):
    """The schedule's optimizer wrapper, with our constructor or mmengine's."""
    cfg = copy.deepcopy(Config.fromfile(SCHEDULE).optim_wrapper)
    assert cfg.constructor == 'GroupedOptimWrapperConstructor'
    if not grouped:
        cfg.pop('constructor')
    cfg.optimizer.update(optimizer_overrides)
    return build_optim_wrapper(model, cfg)


def _settings(optimizer: torch.optim.Optimizer) -> dict:
    """Parameter id -> (lr, weight_decay) as the optimizer will use them."""
    return {id(p): (g['lr'], g['weight_decay'])
            for g in optimizer.param_groups for p in g['params']}


def test_merge_param_groups_keeps_order_and_settings():
    a, b, c, d = (nn.Parameter(torch.zeros(1)) for _ in range(4))
    groups = [dict(params=[a], lr=1.0, weight_decay=0.1),
              dict(params=[b], lr=1.0, weight_decay=0.0),
              dict(params=[c], lr=1.0, weight_decay=0.1),
              dict(params=[d], lr=2.0, weight_decay=0.0)]
    merged = merge_param_groups(groups)
    assert [[id(p) for p in g['params']] for g in merged] == [
        [id(a), id(c)], [id(b)], [id(d)]]
    assert [(g['lr'], g['weight_decay']) for g in merged] == [
        (1.0, 0.1), (1.0, 0.0), (2.0, 0.0)]


def test_same_settings_as_default_constructor_on_hrformer_ocr(tiny_model):
    ours = _build(tiny_model)
    theirs = _build(tiny_model, grouped=False)
    assert _settings(ours.optimizer) == _settings(theirs.optimizer)
    assert len(theirs.optimizer.param_groups) > 100
    # decay on weights; none on norms/biases; none on the bias tables, whose
    # group also carries the custom key's own options
    assert len(ours.optimizer.param_groups) == 3
    assert ours.optimizer.defaults['fused'] is True


def test_fused_update_equals_default_update():
    torch.manual_seed(0)
    net = _Net()
    copies = [copy.deepcopy(net) for _ in range(2)]
    wrappers = [_build(copies[0], lr=1e-2),
                _build(copies[1], grouped=False, lr=1e-2)]
    assert wrappers[0].optimizer.defaults['fused'] is True
    for step in range(5):
        x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(
            step))
        for model, wrapper in zip(copies, wrappers):
            wrapper.update_params(model(x))
    moved = False
    for (name, p), q, p0 in zip(copies[0].named_parameters(),
                                copies[1].parameters(), net.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
        moved |= not torch.equal(p, p0)
    assert moved


def test_explicit_foreach_is_respected():
    wrapper = _build(_Net(), foreach=True)
    assert not wrapper.optimizer.defaults.get('fused')
    assert wrapper.optimizer.defaults['foreach'] is True


def test_optimizer_without_fused_kernel():
    cfg = dict(optimizer=dict(type='RMSprop', lr=0.1, weight_decay=0.01),
               constructor='GroupedOptimWrapperConstructor',
               paramwise_cfg=dict(norm_decay_mult=0.0))
    wrapper = build_optim_wrapper(_Net(), cfg)
    assert not wrapper.optimizer.defaults.get('fused')
    assert len(wrapper.optimizer.param_groups) == 2


@pytest.fixture
def tiny_model():
    from hrformer_seg.registry import MODELS
    cfg = Config.fromfile('configs/_base_/models/ocrnet_hrformer-s.py').model
    cfg.backbone.norm_cfg = dict(type='BN', requires_grad=True)
    for head in cfg.decode_head.values():
        head.norm_cfg = dict(type='BN', requires_grad=True)
    return MODELS.build(cfg)


def test_module_lr_mult_keeps_the_other_rules():
    cfg = copy.deepcopy(
        Config.fromfile('configs/_base_/schedules/schedule_finetune_8k.py')
        .optim_wrapper)
    assert cfg.paramwise_cfg.module_lr_mult == dict(backbone=0.1)
    net = nn.Module()
    net.backbone, net.head = _Net(), _Net()
    settings = _settings(build_optim_wrapper(net, cfg).optimizer)
    lr, wd = cfg.optimizer.lr, cfg.optimizer.weight_decay
    for part, mult in ((net.backbone, 0.1), (net.head, 1.0)):
        assert settings[id(part.conv.weight)] == pytest.approx((lr * mult,
                                                                wd))
        # norms and bias tables: no decay, and the module's learning rate
        for p in (part.bn.weight, part.norm.bias,
                  part.relative_position_bias_table):
            assert settings[id(p)] == pytest.approx((lr * mult, 0.0))
    cfg.paramwise_cfg.module_lr_mult = dict(backbon=0.1)
    with pytest.raises(KeyError, match='backbon'):
        build_optim_wrapper(net, cfg)
