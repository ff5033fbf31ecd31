"""Official HRFormer weights, written out from the official key layout
(github HRNet/HRFormer, seg/lib/models/backbones/hrt) with random values,
module type by module type, independently of the converters under test."""
from collections import OrderedDict

import torch

SMALL = dict(
    channels=((32, 64), (32, 64, 128), (32, 64, 128, 256)),
    heads=((1, 2), (1, 2, 4), (1, 2, 4, 8)),
    modules=(1, 4, 2))
# a narrow variant for the file round trips
NARROW = dict(
    channels=((8, 16), (8, 16, 24), (8, 16, 24, 32)),
    heads=((1, 2), (1, 2, 3), (1, 2, 3, 4)),
    modules=(1, 1, 1))


class OfficialStateDict:
    """Random weights under the official names, built module by module."""

    def __init__(self, seed: int = 0):
        self.sd = OrderedDict()
        self.gen = torch.Generator().manual_seed(seed)

    def tensor(self, key, *shape):
        self.sd[key] = torch.randn(*shape, generator=self.gen)

    def conv(self, prefix, cout, cin, k, bias=False):
        self.tensor(f'{prefix}.weight', cout, cin, k, k)
        if bias:
            self.tensor(f'{prefix}.bias', cout)

    def bn(self, prefix, c):
        self.tensor(f'{prefix}.weight', c)
        self.tensor(f'{prefix}.bias', c)
        self.tensor(f'{prefix}.running_mean', c)
        self.sd[f'{prefix}.running_var'] = torch.rand(
            c, generator=self.gen) + 0.5
        self.sd[f'{prefix}.num_batches_tracked'] = torch.tensor(7)

    def ln(self, prefix, c):
        self.tensor(f'{prefix}.weight', c)
        self.tensor(f'{prefix}.bias', c)

    def linear(self, prefix, cout, cin):
        self.tensor(f'{prefix}.weight', cout, cin)
        self.tensor(f'{prefix}.bias', cout)

    def transformer_block(self, p, c, heads, window):
        self.ln(f'{p}.norm1', c)
        self.ln(f'{p}.norm2', c)
        a = f'{p}.attn.attn'
        self.tensor(f'{a}.relative_position_bias_table', (2 * window - 1)**2,
                    heads)
        self.sd[f'{a}.relative_position_index'] = torch.zeros(
            window**2, window**2, dtype=torch.long)
        for name in ('k_proj', 'v_proj', 'q_proj', 'out_proj'):
            self.linear(f'{a}.{name}', c, c)
        self.conv(f'{p}.mlp.fc1', 4 * c, c, 1, bias=True)
        self.bn(f'{p}.mlp.norm1', 4 * c)
        self.tensor(f'{p}.mlp.dw3x3.weight', 4 * c, 1, 3, 3)
        self.tensor(f'{p}.mlp.dw3x3.bias', 4 * c)
        self.bn(f'{p}.mlp.norm2', 4 * c)
        self.conv(f'{p}.mlp.fc2', c, 4 * c, 1, bias=True)
        self.bn(f'{p}.mlp.norm3', c)

    def fuse(self, p, ch):
        for i in range(len(ch)):
            for j in range(len(ch)):
                if j > i:
                    self.conv(f'{p}.{i}.{j}.0', ch[i], ch[j], 1)
                    self.bn(f'{p}.{i}.{j}.1', ch[i])
                elif j < i:
                    for k in range(i - j):
                        out = ch[i] if k == i - j - 1 else ch[j]
                        self.tensor(f'{p}.{i}.{j}.{k}.0.weight', ch[j], 1, 3,
                                    3)
                        self.bn(f'{p}.{i}.{j}.{k}.1', ch[j])
                        self.conv(f'{p}.{i}.{j}.{k}.2', out, ch[j], 1)
                        self.bn(f'{p}.{i}.{j}.{k}.3', out)

    def classification_head(self):
        self.conv('incre_modules.0.0.conv1', 32, 32, 1)
        self.bn('incre_modules.0.0.bn1', 32)
        self.conv('downsamp_modules.0.0', 128, 1, 3, bias=True)
        self.conv('final_layer.0', 2048, 1024, 1, bias=True)
        self.linear('classifier', 1000, 2048)


def official_hrformer(channels, heads, modules, window=7, head=True):
    o = OfficialStateDict()
    o.conv('conv1', 64, 3, 3)
    o.bn('bn1', 64)
    o.conv('conv2', 64, 64, 3)
    o.bn('bn2', 64)
    for i, cin in enumerate((64, 256)):
        o.conv(f'layer1.{i}.conv1', 64, cin, 1)
        o.bn(f'layer1.{i}.bn1', 64)
        o.conv(f'layer1.{i}.conv2', 64, 64, 3)
        o.bn(f'layer1.{i}.bn2', 64)
        o.conv(f'layer1.{i}.conv3', 256, 64, 1)
        o.bn(f'layer1.{i}.bn3', 256)
    o.conv('layer1.0.downsample.0', 256, 64, 1)
    o.bn('layer1.0.downsample.1', 256)
    # transition1: both branches come from the 256-channel stage-1 output
    o.conv('transition1.0.0', channels[0][0], 256, 3)
    o.bn('transition1.0.1', channels[0][0])
    o.conv('transition1.1.0.0', channels[0][1], 256, 3)
    o.bn('transition1.1.0.1', channels[0][1])
    for t, s in ((2, 1), (3, 2)):  # new branch from the previous last one
        o.conv(f'transition{t}.{s + 1}.0.0', channels[s][-1],
               channels[s - 1][-1], 3)
        o.bn(f'transition{t}.{s + 1}.0.1', channels[s][-1])
    for s in range(3):
        for m in range(modules[s]):
            p = f'stage{s + 2}.{m}'
            for b, (c, h) in enumerate(zip(channels[s], heads[s])):
                for k in range(2):
                    o.transformer_block(f'{p}.branches.{b}.{k}', c, h, window)
            o.fuse(f'{p}.fuse_layers', channels[s])
    if head:
        o.classification_head()
    return o.sd


def official_ocr_heads(o: OfficialStateDict, cin: int, mid: int, key: int,
                       classes: int) -> None:
    """The OCR nets' heads: aux_head, conv3x3, ocr_distri_head, cls_head;
    every BN+ReLU is an nn.Sequential (BN at index 0)."""
    o.conv('aux_head.0', mid, cin, 3, bias=True)
    o.bn('aux_head.1.0', mid)
    o.conv('aux_head.2', classes, mid, 1, bias=True)
    o.conv('conv3x3.0', mid, cin, 3, bias=True)
    o.bn('conv3x3.1.0', mid)
    block = 'ocr_distri_head.object_context_block'
    for name in ('f_pixel', 'f_object'):
        o.conv(f'{block}.{name}.0', key, mid, 1)
        o.bn(f'{block}.{name}.1.0', key)
        o.conv(f'{block}.{name}.2', key, key, 1)
        o.bn(f'{block}.{name}.3.0', key)
    o.conv(f'{block}.f_down.0', key, mid, 1)
    o.bn(f'{block}.f_down.1.0', key)
    o.conv(f'{block}.f_up.0', mid, key, 1)
    o.bn(f'{block}.f_up.1.0', mid)
    o.conv('ocr_distri_head.conv_bn_dropout.0', mid, 2 * mid, 1)
    o.bn('ocr_distri_head.conv_bn_dropout.1.0', mid)
    o.conv('cls_head', classes, mid, 1, bias=True)


def official_ocrnet(arch: dict = NARROW, window: int = 7, mid: int = 16,
                    key: int = 8, classes: int = 5
                    ) -> 'OrderedDict[str, torch.Tensor]':
    """A DDP-saved official state dict of HRFormer + OCR (by default a
    narrow one: head width 16, 8 key channels, 5 classes)."""
    o = OfficialStateDict(seed=1)
    for k, v in official_hrformer(**arch, window=window, head=False).items():
        o.sd[f'backbone.{k}'] = v
    official_ocr_heads(o, sum(arch['channels'][-1]), mid, key, classes)
    return OrderedDict((f'module.{k}', v) for k, v in o.sd.items())
