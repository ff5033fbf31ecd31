"""Lean activations: the same training computation with fewer saved tensors.

Lean mode keeps dense convolution and attention outputs for backward and
recomputes the rest there. These tests compare it with the plain path (no
checkpointing) and with full checkpointing (``with_cp``) on tiny models.
"""
import copy

import pytest
import torch
from mmengine.structures import PixelData
from tiny_hrformer import TINY
from torch import nn
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode

from hrformer_seg.models.backbones import HRFormer
from hrformer_seg.models.decode_heads import (
    BaseDecodeHead,
    ObjectAttentionBlock,
)
from hrformer_seg.models.layers import HRFormerBlock, WinogradConv2d
from hrformer_seg.models.layers.bottleneck import Bottleneck
from hrformer_seg.models.layers.winograd_conv import nnpack_available
from hrformer_seg.models.utils.activation_checkpoint import checkpoint_module
from hrformer_seg.registry import MODELS
from hrformer_seg.structures import SegDataSample


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


def test_backbone_default_is_lean_and_flags_reach_every_block():
    model = HRFormer(**TINY)
    blocks = [m for m in model.modules()
              if isinstance(m, (HRFormerBlock, Bottleneck))]
    assert blocks and all(m.lean_activations for m in blocks)
    plain = HRFormer(**TINY, lean_activations=False)
    assert not any(getattr(m, 'lean_activations', False)
                   for m in plain.modules())


@pytest.mark.parametrize('mode', ['lean', 'with_cp'])
def test_backbone_same_outputs_grads_and_bn_buffers(mode):
    torch.manual_seed(0)
    ref = HRFormer(**TINY, drop_path_rate=0.3, lean_activations=False)
    other = HRFormer(
        **TINY, drop_path_rate=0.3, lean_activations=mode == 'lean',
        with_cp=mode == 'with_cp')
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


def test_backbone_eval_and_no_grad_do_not_checkpoint():
    model = HRFormer(**TINY).eval()
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    outs = model(x)
    counter = ConvCounter()
    with counter:
        sum(o.sum() for o in outs).backward()
    assert counter.dense == counter.grouped == 0


def _cascade(lean: bool, with_cp: bool = False) -> nn.Module:
    channels = [8, 16, 24, 32]

    def head(**kwargs):
        return dict(in_channels=channels, in_index=(0, 1, 2, 3),
                    input_transform='resize_concat', channels=16,
                    num_classes=5, norm_cfg=dict(type='BN'),
                    align_corners=False, lean_activations=lean,
                    with_cp=with_cp, **kwargs)

    return MODELS.build(dict(
        type='CascadeEncoderDecoder',
        num_stages=2,
        data_preprocessor=dict(type='SegDataPreProcessor', pad_val=0,
                               seg_pad_val=255),
        backbone=dict(type='HRFormer', lean_activations=lean,
                      with_cp=with_cp,
                      drop_path_rate=0.2, **TINY),
        decode_head=dict(
            fcn=head(type='FCNHead', num_convs=1, kernel_size=3,
                     concat_input=False, dropout_ratio=0.1,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      loss_weight=0.4)),
            ocr=head(type='OCRHead', ocr_channels=8, dropout_ratio=0.1,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      loss_weight=1.0)))))


def test_heads_default_is_lean():
    head = MODELS.build(dict(type='FCNHead', in_channels=4, channels=4,
                             num_classes=3, num_convs=1))
    assert isinstance(head, BaseDecodeHead) and head.lean_activations


@pytest.mark.parametrize('mode', ['lean', 'with_cp'])
def test_ocrnet_same_losses_grads_and_buffers_as_plain(mode):
    """Whole segmentor, drop path and dropout on: lean (or fully
    checkpointed) heads and backbone give the plain path's losses,
    gradients and BN statistics."""
    torch.manual_seed(0)
    plain = _cascade(lean=False).train()
    lean = _cascade(lean=True, with_cp=mode == 'with_cp').train()
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
    # lean mode recomputes, plain does not; no dense conv is run twice
    # in lean mode, nearly all with_cp
    assert count_a.layer_norms == 0 and count_b.layer_norms > 0
    checkpointed = [m for m in plain.modules() if isinstance(
        m, (HRFormerBlock, Bottleneck, BaseDecodeHead))]
    num_dense = sum(isinstance(c, nn.Conv2d) and c.groups == 1
                    for m in checkpointed for c in m.modules())
    # the heads' 3x3 convolutions are WinogradConv2d; where NNPACK runs,
    # their forward shows as one NNPACK call per image instead of a
    # convolution, and the input gradient adds as many in every mode
    winograd = [m for m in plain.modules() if isinstance(m, WinogradConv2d)]
    assert len(winograd) == 2
    per_conv = len(inputs) if nnpack_available() else 0
    assert count_a.nnpack == per_conv * len(winograd)
    recomputed_winograd = (count_b.nnpack - count_a.nnpack) // len(inputs) \
        if per_conv else 0
    if mode == 'lean':
        assert count_b.dense == 0 and recomputed_winograd == 0
    else:
        # every one but the classifiers, whose outputs backward never needs
        # (torch stops recomputing once it has all it needs)
        # (the OCR fusion's 1x1 convolution runs as two, see
        # ObjectAttentionBlock.fuse)
        num_fusions = sum(isinstance(m, ObjectAttentionBlock)
                          for m in plain.modules())
        assert count_a.dense == 0 and num_fusions == 1
        assert count_b.dense + recomputed_winograd \
            == num_dense + num_fusions - 2
    # and the dropout / drop path draws are replayed, not fresh: a second
    # lean run with the same seed gives bit-identical gradients
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


def test_with_cp_head_rebuilds_one_stage_at_a_time():
    """with_cp checkpoints the OCR head in stages: backward holds less at
    once than a checkpoint of the whole head, for the same gradients."""
    cfg = dict(type='OCRHead', in_channels=[8, 8], in_index=(0, 1),
               input_transform='resize_concat', channels=32,
               ocr_channels=16, num_classes=3, norm_cfg=dict(type='BN'))
    torch.manual_seed(0)
    staged = MODELS.build(dict(cfg, with_cp=True)).train()
    whole = MODELS.build(dict(cfg, lean_activations=False)).train()
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
