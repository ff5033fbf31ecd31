"""HRFormer backbone: sizes, parameter counts, drop path, freezing,
pretrained loading (activation memory: tests/models/utils/
test_activation_memory.py)."""
import pytest
import torch
from mmcv.cnn.bricks import DropPath
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hrformer_seg.models.backbones import HRFormer
from hrformer_seg.registry import MODELS
from tests.helpers.tiny_hrformer import TINY


def strided_sizes(size: int):
    """Sizes of the four branches: stride-2 convs with kernel 3, padding 1."""
    sizes = []
    for _ in range(5):
        size = (size - 1) // 2 + 1
        sizes.append(size)
    return sizes[1:]


def test_strided_sizes_helper():
    assert strided_sizes(512) == [128, 64, 32, 16]
    assert strided_sizes(97) == [25, 13, 7, 4]


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope='module')
def small():
    torch.manual_seed(0)
    return HRFormer(arch='small').eval()


def test_parameter_count_small(small):
    # official backbone without the classification head, window 7
    assert num_params(small) == 7_891_050


def test_base_parameter_count_and_shapes():
    torch.manual_seed(0)
    model = HRFormer(arch='base').eval()
    assert num_params(model) == 44_040_666
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 45, 70))
    for out, c, h, w in zip(outs, (78, 156, 312, 624), strided_sizes(45),
                            strided_sizes(70)):
        assert out.shape == (2, c, h, w)
        assert torch.isfinite(out).all()


def test_registered():
    model = MODELS.build(dict(type='HRFormer', arch='small'))
    assert isinstance(model, HRFormer)
    assert model.out_channels == (32, 64, 128, 256)


@pytest.mark.parametrize('shape', [
    (1, 3, 64, 64), (2, 3, 97, 131),
    pytest.param((1, 3, 500, 700), marks=pytest.mark.slow)
])
def test_small_output_shapes(small, shape):
    with torch.no_grad():
        outs = small(torch.randn(*shape))
    assert isinstance(outs, tuple) and len(outs) == 4
    heights, widths = strided_sizes(shape[2]), strided_sizes(shape[3])
    for out, c, h, w in zip(outs, (32, 64, 128, 256), heights, widths):
        assert out.shape == (shape[0], c, h, w)
        assert torch.isfinite(out).all()


def test_in_channels_and_sync_bn():
    model = HRFormer(
        arch='small', in_channels=4,
        norm_cfg=dict(type='SyncBN', requires_grad=True))
    assert model.conv1.in_channels == 4
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(isinstance(m, nn.SyncBatchNorm) for m in bns)


def test_tiny_backward_odd_size():
    torch.manual_seed(0)
    model = HRFormer(**TINY, drop_path_rate=0.2).train()
    outs = model(torch.randn(2, 3, 37, 51))
    sum(o.mean() for o in outs).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_drop_path_rates_linear_over_depth_steps():
    model = HRFormer(arch='small', drop_path_rate=0.2)
    steps = [i * 0.2 / 13 for i in range(14)]  # 2 + 4 * 2 + 2 * 2 steps
    step = 0
    for s, modules in ((2, 1), (3, 4), (4, 2)):
        for m in range(modules):
            module = getattr(model, f'stage{s}')[m]
            for k in range(2):
                for branch in module.branches:
                    drop = branch[k].drop_path
                    rate = drop.drop_prob if isinstance(drop, DropPath) else 0
                    assert rate == pytest.approx(steps[step])
                step += 1
    assert step == 14
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match='drop_path_rate must be in'):
            HRFormer(**TINY, drop_path_rate=rate)


def _copy(model: nn.Module, **kwargs) -> nn.Module:
    other = HRFormer(**TINY, **kwargs)
    other.load_state_dict(model.state_dict())
    return other


def test_drop_path_active_in_train_only():
    torch.manual_seed(0)
    model = HRFormer(**TINY, drop_path_rate=0.5)
    plain = _copy(model, drop_path_rate=0.0)
    x = torch.randn(2, 3, 32, 40)
    for m in (model, plain):  # batch statistics but fixed BN buffers
        m.train()
        for bn in m.modules():
            if isinstance(bn, _BatchNorm):
                bn.track_running_stats = False
    torch.manual_seed(1)
    a = model(x)[0]
    torch.manual_seed(2)
    b = model(x)[0]
    c = plain(x)[0]
    assert not torch.allclose(a, b)
    assert not torch.allclose(a, c)
    model.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], plain(x)[0])


def test_frozen_stages_and_norm_eval():
    model = HRFormer(**TINY, frozen_stages=2, norm_eval=False)
    model.train()
    frozen = ('conv1', 'bn1', 'conv2', 'bn2', 'layer1', 'transition1',
              'stage2')
    for name, param in model.named_parameters():
        assert param.requires_grad != name.startswith(frozen), name
    for name, module in model.named_modules():
        if name.split('.')[0] in frozen:
            assert not module.training, name
        elif name.startswith('stage3'):
            assert module.training, name

    model = HRFormer(**TINY, frozen_stages=0)
    assert not model.conv1.weight.requires_grad
    assert model.layer1[0].conv1.weight.requires_grad

    model = HRFormer(**TINY, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    assert model.stage4.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model(torch.randn(2, 3, 24, 24))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_pretrained_init_cfg(tmp_path):
    torch.manual_seed(0)
    src = HRFormer(**TINY)
    for m in src.modules():  # non-default buffers
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-1, 1)
    path = tmp_path / 'tiny.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in src.state_dict().items()}}, path)
    dst = HRFormer(
        **TINY,
        init_cfg=dict(type='Pretrained', checkpoint=str(path),
                      prefix='backbone.'))
    dst.init_weights()
    loaded = dst.state_dict()
    for k, v in src.state_dict().items():
        assert torch.equal(loaded[k], v), k


def test_invalid_settings():
    with pytest.raises(KeyError, match='tiny'):
        HRFormer(arch='tiny')
    with pytest.raises(ValueError, match='num_heads of stage 3'):
        HRFormer(num_heads=((1, 2), (1, 2), (1, 2, 4, 8)))
    with pytest.raises(ValueError, match='window_sizes'):
        HRFormer(window_sizes=(7, 7))
