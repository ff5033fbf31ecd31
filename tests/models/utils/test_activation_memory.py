"""The activation memory setting: one default, set once, same computation.

'full' (the default) is plain autograd; 'lean' keeps dense convolution and
attention outputs for backward and recomputes the rest there; 'checkpoint'
recomputes everything. These tests check where the setting comes from and
compare 'lean' and 'checkpoint' with the plain path on tiny models.
"""
import copy

import pytest
import torch
from mmengine.structures import PixelData
from torch import nn
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode

from hrformer_seg.models.backbones import HRFormer
from hrformer_seg.models.decode_heads import BaseDecodeHead
from hrformer_seg.models.layers import (
    Bottleneck,
    HRFormerBlock,
    SplitConcatConv,
    WinogradConv2d,
)
from hrformer_seg.models.layers.winograd_conv import nnpack_available
from hrformer_seg.models.utils import (
    DEFAULT_ACTIVATION_MEMORY,
    ActivationMemoryMixin,
    checkpoint_module,
    set_activation_memory,
)
from hrformer_seg.registry import MODELS
from hrformer_seg.structures import SegDataSample
from tests.helpers.tiny_hrformer import TINY

WINOGRAD = dict(type='WinogradConv2d')


class ConvCounter(TorchDispatchMode):
    """Counts forward convolutions, dense (groups 1) and depthwise, and
    NNPACK calls (``WinogradConv2d``: one per image, in its forward and for
    its input gradient)."""

    def __init__(self):
        super().__init__()
        self.dense = 0
        self.grouped = 0
        self.nnpack = 0
        self.layer_norms = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.convolution.default:
            if args[8] == 1:
                self.dense += 1
            else:
                self.grouped += 1
        elif func is torch.ops.aten._nnpack_spatial_convolution.default:
            self.nnpack += 1
        elif func is torch.ops.aten.native_layer_norm.default:
            self.layer_norms += 1
        return func(*args, **(kwargs or {}))


def _units(model):
    return [m for m in model.modules()
            if isinstance(m, ActivationMemoryMixin)]


def _modes(model):
    return {type(m).__name__: m.activation_memory for m in _units(model)}


def _cascade(mode=None, conv_cfg=None, **ocr_kwargs) -> nn.Module:
    """A tiny HRFormer + FCN/OCR cascade; ``mode`` is the model's
    activation_memory (None: not set), ``ocr_kwargs`` go to the OCR head."""
    channels = [8, 16, 24, 32]

    def head(**kwargs):
        return dict(in_channels=channels, in_index=(0, 1, 2, 3),
                    input_transform='resize_concat', channels=16,
                    num_classes=5, norm_cfg=dict(type='BN'),
                    align_corners=False, conv_cfg=conv_cfg, **kwargs)

    cfg = dict(
        type='CascadeEncoderDecoder',
        num_stages=2,
        data_preprocessor=dict(type='SegDataPreProcessor', pad_val=0,
                               seg_pad_val=255),
        backbone=dict(type='HRFormer', drop_path_rate=0.2, **TINY),
        decode_head=dict(
            fcn=head(type='FCNHead', num_convs=1, kernel_size=3,
                     concat_input=False, dropout_ratio=0.1,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      loss_weight=0.4)),
            ocr=head(type='OCRHead', ocr_channels=8, dropout_ratio=0.1,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      loss_weight=1.0), **ocr_kwargs)))
    if mode is not None:
        cfg['activation_memory'] = mode
    # NCHW on every CPU: the NNPACK calls counted below need it
    cfg['memory_format'] = 'contiguous'
    return MODELS.build(cfg)


# ------------------------------------------------------- where it is set
def test_one_default_full_at_every_level():
    assert DEFAULT_ACTIVATION_MEMORY == 'full'
    backbone = HRFormer(**TINY)
    units = _units(backbone)
    assert {type(m) for m in units} == {Bottleneck, HRFormerBlock}
    assert all(m.activation_memory == 'full' for m in units)
    head = MODELS.build(dict(type='FCNHead', in_channels=4, channels=4,
                             num_classes=3, num_convs=1))
    assert isinstance(head, BaseDecodeHead)
    assert head.activation_memory == 'full'
    model = _cascade()
    assert set(_modes(model)) == {'Bottleneck', 'HRFormerBlock', 'FCNHead',
                                  'OCRHead'}
    assert set(_modes(model).values()) == {'full'}


@pytest.mark.parametrize('mode', ['lean', 'checkpoint'])
def test_segmentor_sets_every_unit_a_part_may_override(mode):
    assert set(_modes(_cascade(mode)).values()) == {mode}
    model = _cascade(mode, activation_memory='full')
    ocr = model.decode_head[1]
    assert ocr.activation_memory == 'full'
    assert {m.activation_memory for m in _units(model) if m is not ocr} \
        == {mode}
    # a backbone built on its own takes it too
    backbone = HRFormer(**TINY, activation_memory=mode)
    assert set(_modes(backbone).values()) == {mode}
    # and a built model can be switched afterwards
    assert set_activation_memory(model, 'full') == len(_units(model))
    assert set(_modes(model).values()) == {'full'}


def test_unknown_modes_are_named():
    with pytest.raises(ValueError, match="HRFormer.*'lean'.*'none'"):
        HRFormer(**TINY, activation_memory='none')
    with pytest.raises(ValueError, match="CascadeEncoderDecoder.*'all'"):
        _cascade('all')
    with pytest.raises(ValueError, match='OCRHead.*True'):
        _cascade(activation_memory=True)
    # a mode set directly on a unit is checked when it runs
    block = HRFormer(**TINY).stage2[0].branches[0][0].train()
    block.activation_memory = 'leann'
    with pytest.raises(ValueError, match="HRFormerBlock.*'leann'"):
        block(torch.randn(1, 8, 6, 6))


def _backbone_run(model: nn.Module, x: torch.Tensor):
    torch.manual_seed(5)  # same drop path draws
    outs = model(x)
    loss = sum((o * o).mean() for o in outs)
    counter = ConvCounter()
    with counter:
        loss.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    return outs, grads, buffers, counter


# ---------------------------------------- the same computation as 'full'
@pytest.mark.parametrize('mode', ['lean', 'checkpoint'])
def test_backbone_same_outputs_grads_and_bn_buffers(mode):
    torch.manual_seed(0)
    ref = HRFormer(**TINY, drop_path_rate=0.3)
    other = HRFormer(**TINY, drop_path_rate=0.3, activation_memory=mode)
    other.load_state_dict(ref.state_dict())
    ref.train()
    other.train()
    x = torch.randn(2, 3, 38, 45)
    outs_a, grads_a, buf_a, count_a = _backbone_run(ref, x)
    outs_b, grads_b, buf_b, count_b = _backbone_run(other, x)
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(a, b)
    for k in grads_a:
        torch.testing.assert_close(grads_a[k], grads_b[k], msg=k)
    for k in buf_a:  # running stats updated once, not twice
        torch.testing.assert_close(buf_a[k], buf_b[k], msg=k)

    # what the backward pass recomputes
    assert count_a.dense == count_a.grouped == count_a.layer_norms == 0
    num_blocks = sum(isinstance(m, HRFormerBlock) for m in ref.modules())
    assert count_b.layer_norms == 2 * num_blocks
    assert count_b.grouped == num_blocks  # the FFN's depthwise conv
    if mode == 'lean':
        assert count_b.dense == 0  # kept from the forward pass
    else:
        assert count_b.dense > 2 * num_blocks  # fc1, fc2 and bottlenecks


@pytest.mark.parametrize('mode', ['lean', 'checkpoint'])
def test_backbone_in_eval_mode_does_not_recompute(mode):
    model = HRFormer(**TINY, activation_memory=mode).eval()
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    outs = model(x)
    counter = ConvCounter()
    with counter:
        sum(o.sum() for o in outs).backward()
    assert counter.dense == counter.grouped == 0


@pytest.mark.parametrize('conv_cfg', [None, WINOGRAD],
                         ids=['conv2d', 'winograd'])
@pytest.mark.parametrize('mode', ['lean', 'checkpoint'])
def test_ocrnet_same_losses_grads_and_buffers_as_plain(mode, conv_cfg):
    """Whole segmentor, drop path and dropout on: lean (or fully
    checkpointed) heads and backbone give the plain path's losses,
    gradients and BN statistics, with nn.Conv2d or WinogradConv2d in the
    heads."""
    torch.manual_seed(0)
    plain = _cascade(conv_cfg=conv_cfg).train()
    lean = _cascade(mode, conv_cfg=conv_cfg).train()
    lean.load_state_dict(plain.state_dict())
    lean_again = copy.deepcopy(lean)
    inputs = torch.randn(2, 3, 40, 56)
    labels = torch.randint(0, 5, (2, 1, 40, 56))
    labels[0, 0, :5] = 255
    samples = []
    for label in labels:
        sample = SegDataSample(metainfo=dict(img_shape=(40, 56),
                                             pad_shape=(40, 56)))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)

    results = []
    for model in (plain, lean, lean_again):
        torch.manual_seed(7)
        losses = model(inputs, samples, mode='loss')
        total = sum(v for k, v in losses.items() if 'loss' in k)
        counter = ConvCounter()
        with counter:
            total.backward()
        results.append((
            {k: v.detach() for k, v in losses.items()},
            {k: p.grad.clone() for k, p in model.named_parameters()},
            {k: v.clone() for k, v in model.state_dict().items()},
            counter))
    (loss_a, grad_a, buf_a, count_a), (loss_b, grad_b, buf_b, count_b) = \
        results[:2]
    assert loss_a.keys() == loss_b.keys()
    for k in loss_a:
        torch.testing.assert_close(loss_a[k], loss_b[k], msg=k)
    for k in grad_a:
        torch.testing.assert_close(grad_a[k], grad_b[k], msg=k)
    for k in buf_a:
        torch.testing.assert_close(buf_a[k], buf_b[k], msg=k)
    # lean mode recomputes, plain does not; no dense conv is run twice in
    # lean mode, nearly all in checkpoint mode
    assert count_a.layer_norms == 0 and count_b.layer_norms > 0
    num_dense = sum(isinstance(c, nn.Conv2d) and c.groups == 1
                    for m in _units(plain) for c in m.modules())
    # with conv_cfg=WinogradConv2d, where NNPACK runs, the forward of the
    # heads' two 3x3 convolutions shows as one NNPACK call per image
    # instead of a convolution, and their input gradient adds as many in
    # every mode (1x1 WinogradConv2d are nn.Conv2d's convolutions)
    winograd = [m for m in plain.modules() if isinstance(m, WinogradConv2d)
                and m.kernel_size == (3, 3)]
    assert len(winograd) == (2 if conv_cfg else 0)
    per_conv = len(inputs) if nnpack_available() else 0
    assert count_a.nnpack == per_conv * len(winograd)
    recomputed_winograd = (count_b.nnpack - count_a.nnpack) // len(inputs) \
        if per_conv else 0
    if mode == 'lean':
        assert count_b.dense == 0 and recomputed_winograd == 0
    else:
        # every one but the classifiers, whose outputs backward never needs
        # (torch stops recomputing once it has all it needs); the OCR
        # fusion's 1x1 convolution runs as two (SplitConcatConv)
        num_fusions = sum(isinstance(m, SplitConcatConv)
                          for m in plain.modules())
        assert count_a.dense == 0 and num_fusions == 1
        assert count_b.dense + recomputed_winograd \
            == num_dense + num_fusions - 2
    # and the dropout / drop path draws are replayed, not fresh: a second
    # run with the same seed gives bit-identical gradients
    for k in grad_b:
        assert torch.equal(grad_b[k], results[2][1][k]), k


class PeakLiveBytes(TorchDispatchMode):
    """Peak bytes of the tensor storages created inside the mode that are
    alive at the same time."""

    def __init__(self):
        super().__init__()
        self.storages = {}
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        outs = out if isinstance(out, (tuple, list)) else [out]
        for t in outs:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                self.storages[storage._cdata] = (StorageWeakRef(storage),
                                                 storage.nbytes())
        live = sum(n for ref, n in self.storages.values() if not ref.expired())
        self.peak = max(self.peak, live)
        return out


def test_checkpoint_head_rebuilds_one_stage_at_a_time():
    """'checkpoint' checkpoints the OCR head in stages: backward holds less
    at once than a checkpoint of the whole head, for the same gradients."""
    cfg = dict(type='OCRHead', in_channels=[8, 8], in_index=(0, 1),
               input_transform='resize_concat', channels=32,
               ocr_channels=16, num_classes=3, norm_cfg=dict(type='BN'))
    torch.manual_seed(0)
    staged = MODELS.build(dict(cfg, activation_memory='checkpoint')).train()
    whole = MODELS.build(cfg).train()
    whole.load_state_dict(staged.state_dict())
    feats = [torch.randn(2, 8, 48, 48), torch.randn(2, 8, 24, 24)]
    prev = torch.randn(2, 3, 48, 48)
    results = []
    for head, run in (
            (staged, lambda x, p: staged(x, p)),
            (whole, lambda x, p: checkpoint_module(whole, whole, x, p))):
        inputs = [f.clone().requires_grad_() for f in feats]
        prev_in = prev.clone().requires_grad_()
        torch.manual_seed(7)  # same dropout draws
        out = run(inputs, prev_in)
        peak = PeakLiveBytes()
        with peak:
            (out * out).sum().backward()
        results.append((out.detach(), [x.grad for x in inputs + [prev_in]],
                        {k: p.grad for k, p in head.named_parameters()},
                        peak.peak))
    (out_a, in_a, par_a, peak_a), (out_b, in_b, par_b, peak_b) = results
    torch.testing.assert_close(out_a, out_b)
    for a, b in zip(in_a, in_b):
        torch.testing.assert_close(a, b)
    for k in par_a:
        torch.testing.assert_close(par_a[k], par_b[k], msg=k)
    # whole: features, object context and fusion rebuilt together
    assert peak_a < 0.8 * peak_b, (peak_a, peak_b)
