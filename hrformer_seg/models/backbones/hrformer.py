"""HRFormer: High-Resolution Transformer backbone (Yuan et al., NeurIPS 2021).

An HRNet whose stages 2-4 use transformer blocks (local-window attention and
a depthwise-conv FFN) in every resolution branch, with HRNet's transitions and
multi-resolution fusion (depthwise-separable downsampling). The module and
parameter names follow the official implementation, except the attention
(``attn.qkv``/``attn.proj`` instead of ``attn.attn.{q,k,v,out}_proj``), so
official checkpoints load after
:func:`hrformer_seg.models.utils.convert_official_hrformer`.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from hrformer_seg.registry import MODELS
from hrformer_seg.utils.checkpoint import load_state_dict_file
from ..layers import Bottleneck, HRFormerBlock
from ..utils.activation_memory import set_activation_memory
from ..utils.ckpt_convert import (
    convert_official_hrformer,
    is_official_hrformer,
    resize_relative_position_bias_tables,
)

IntOrSeq = Union[int, Sequence[int]]
FloatOrSeq = Union[float, Sequence[float]]

# stages 2, 3, 4 (stage 1 is the bottleneck stage)
ARCH_SETTINGS: Dict[str, dict] = {
    'small':
    dict(
        num_modules=(1, 4, 2),
        num_branches=(2, 3, 4),
        num_blocks=((2, 2), (2, 2, 2), (2, 2, 2, 2)),
        num_channels=((32, 64), (32, 64, 128), (32, 64, 128, 256)),
        num_heads=((1, 2), (1, 2, 4), (1, 2, 4, 8))),
    'base':
    dict(
        num_modules=(1, 4, 2),
        num_branches=(2, 3, 4),
        num_blocks=((2, 2), (2, 2, 2), (2, 2, 2, 2)),
        num_channels=((78, 156), (78, 156, 312), (78, 156, 312, 624)),
        num_heads=((2, 4), (2, 4, 8), (2, 4, 8, 16))),
}


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int,
             stride: int, groups: int, norm_cfg: dict) -> List[nn.Module]:
    return [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False),
        build_norm_layer(norm_cfg, out_channels)[1]
    ]


def _per_branch(value, num_branches: Sequence[int], name: str) -> tuple:
    """Expand a scalar or per-stage setting to one value per stage and
    branch: ``7`` -> ``((7, 7), (7, 7, 7), (7, 7, 7, 7))``."""
    if isinstance(value, (int, float)):
        return tuple((value, ) * n for n in num_branches)
    value = tuple(value)
    if len(value) != len(num_branches):
        raise ValueError(f'{name} needs one entry per transformer stage '
                         f'({len(num_branches)}), got {value}')
    out = []
    for stage, (v, n) in enumerate(zip(value, num_branches), start=2):
        v = (v, ) * n if isinstance(v, (int, float)) else tuple(v)
        if len(v) != n:
            raise ValueError(f'{name} of stage {stage} needs {n} entries '
                             f'(one per branch), got {v}')
        out.append(v)
    return tuple(out)


class HRFormerModule(nn.Module):
    """Parallel transformer branches followed by multi-resolution fusion.

    Fusion into output branch ``i`` sums all branches ``j``:
    ``j == i`` as is; ``j > i`` (lower resolution) through a 1x1 conv + norm,
    a nearest upsampling by ``2^(j-i)`` and, when that is not exactly branch
    ``i``'s size (inputs not divisible by 32), a bilinear resize with
    ``align_corners=True`` (both as in the official seg code; on sizes
    divisible by 32 it is plain nearest upsampling, as in mmpose's
    HRFormer); ``j < i`` through ``i - j`` stride-2 steps of
    depthwise 3x3 conv + norm + pointwise 1x1 conv + norm, ReLU after each
    step but the last. A ReLU follows the sum.

    Args:
        channels: channels of each branch.
        num_blocks: transformer blocks of each branch.
        num_heads: attention heads of each branch.
        window_sizes: attention window of each branch.
        mlp_ratios: FFN ratio of each branch.
        drop_paths: drop path rate of each block depth, shared by branches.
        norm_cfg: mmcv norm config of the FFN, fusion layers.
        mask_padding, fused_attn: see :class:`HRFormerBlock`.
    """

    def __init__(self,
                 channels: Sequence[int],
                 num_blocks: Sequence[int],
                 num_heads: Sequence[int],
                 window_sizes: Sequence[int],
                 mlp_ratios: Sequence[float],
                 drop_paths: Sequence[float],
                 norm_cfg: dict,
                 mask_padding: bool = False,
                 fused_attn: bool = True) -> None:
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList()
        for b in range(self.num_branches):
            self.branches.append(
                nn.Sequential(*[
                    HRFormerBlock(
                        channels[b],
                        num_heads[b],
                        window_size=window_sizes[b],
                        mlp_ratio=mlp_ratios[b],
                        drop_path=drop_paths[k],
                        norm_cfg=norm_cfg,
                        mask_padding=mask_padding,
                        fused_attn=fused_attn)
                    for k in range(num_blocks[b])
                ]))
        self.fuse_layers = None
        if self.num_branches > 1:
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(
                    self._fuse_layer(channels, j, i, norm_cfg)
                    for j in range(self.num_branches))
                for i in range(self.num_branches))
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _fuse_layer(channels: Sequence[int], j: int, i: int,
                    norm_cfg: dict) -> Optional[nn.Module]:
        """The path from input branch ``j`` to output branch ``i``."""
        if j == i:
            return None
        if j > i:  # 1x1 conv + norm; upsampled in forward()
            return nn.Sequential(
                *_conv_bn(channels[j], channels[i], 1, 1, 1, norm_cfg))
        steps = []
        for k in range(i - j):
            last = k == i - j - 1
            out_channels = channels[i] if last else channels[j]
            layers = _conv_bn(channels[j], channels[j], 3, 2, channels[j],
                              norm_cfg)
            layers += _conv_bn(channels[j], out_channels, 1, 1, 1, norm_cfg)
            if not last:
                layers.append(nn.ReLU(inplace=False))
            steps.append(nn.Sequential(*layers))
        return nn.Sequential(*steps)

    def forward(self, xs: List[Tensor]) -> List[Tensor]:
        """xs[b]: (N, C_b, H_b, W_b) -> list of the same shapes."""
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        outs = []
        for i, fuse in enumerate(self.fuse_layers):
            size = xs[i].shape[-2:]
            y = None
            for j, x in enumerate(xs):
                if j > i:
                    x = F.interpolate(
                        fuse[j](x), scale_factor=2**(j - i), mode='nearest')
                    if x.shape[-2:] != size:
                        x = F.interpolate(
                            x, size=size, mode='bilinear', align_corners=True)
                elif j < i:
                    x = fuse[j](x)
                y = x if y is None else y + x
            outs.append(self.relu(y))
        return outs


@MODELS.register_module()
class HRFormer(BaseModule):
    """HRFormer backbone returning four feature maps (strides 4, 8, 16, 32).

    Stem: two 3x3 stride-2 convs (+ norm + ReLU). Stage 1: bottlenecks.
    Stages 2-4: :class:`HRFormerModule` s with 2, 3 and 4 branches, opened by
    HRNet transitions (a 3x3 conv + norm + ReLU where the channels of a branch
    change, a 3x3 stride-2 one from the lowest resolution for a new branch).

    Every setting of ``arch`` can be overridden; per-stage settings are
    sequences over stages 2, 3, 4, and per-branch settings (``num_blocks``,
    ``num_channels``, ``num_heads``, ``mlp_ratios``, ``window_sizes``)
    sequences of per-branch sequences (``mlp_ratios``/``window_sizes`` also
    accept one number for all).

    Args:
        arch: 'small' (HRFormer-S) or 'base' (HRFormer-B).
        in_channels: channels of the input image.
        stem_channels: channels of the two stem convolutions.
        bottleneck_planes: inner channels of the stage-1 bottlenecks (output
            ``4 * bottleneck_planes``).
        num_bottlenecks: bottleneck blocks in stage 1.
        num_modules: modules of stages 2-4.
        num_branches: branches of stages 2-4.
        num_blocks: transformer blocks per stage and branch.
        num_channels: channels per stage and branch.
        num_heads: attention heads per stage and branch.
        mlp_ratios: FFN ratio, default 4 everywhere.
        window_sizes: attention window, default 7 everywhere.
        drop_path_rate: drop path rate of the last transformer depth step;
            the rate grows linearly from 0 over the depth steps of stages 2-4
            (2 + 4 * 2 + 2 * 2 = 14 for S and B), all branches of a module
            sharing the rate of their depth step.
        norm_cfg: mmcv config of all norm layers but the LayerNorms.
        mask_padding: mask padded keys in window attention (official: no).
        fused_attn: use the fused scaled-dot-product attention kernel.
        activation_memory: 'full', 'lean' or 'checkpoint' for every
            transformer block and bottleneck (see
            :mod:`hrformer_seg.models.utils.activation_memory`); None leaves
            them as the enclosing segmentor sets them ('full' by default).
        frozen_stages: -1 freezes nothing, 0 the stem, ``i`` the stem and
            stages 1..i (with the transitions that open them).
        norm_eval: keep the BatchNorm layers in eval mode during training.
        init_cfg: mmengine init config; ``dict(type='Pretrained',
            checkpoint=PATH[, prefix='backbone.'])`` loads a checkpoint (safe
            loader; official HRFormer files are converted on the fly).
    """

    def __init__(self,
                 arch: str = 'small',
                 in_channels: int = 3,
                 stem_channels: int = 64,
                 bottleneck_planes: int = 64,
                 num_bottlenecks: int = 2,
                 num_modules: Optional[Sequence[int]] = None,
                 num_branches: Optional[Sequence[int]] = None,
                 num_blocks: Optional[Sequence[Sequence[int]]] = None,
                 num_channels: Optional[Sequence[Sequence[int]]] = None,
                 num_heads: Optional[Sequence[Sequence[int]]] = None,
                 mlp_ratios: Union[float, Sequence[FloatOrSeq]] = 4.0,
                 window_sizes: Union[int, Sequence[IntOrSeq]] = 7,
                 drop_path_rate: float = 0.0,
                 norm_cfg: Optional[dict] = None,
                 mask_padding: bool = False,
                 fused_attn: bool = True,
                 activation_memory: Optional[str] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch not in ARCH_SETTINGS:
            raise KeyError(f'unknown HRFormer arch {arch!r}, choose from '
                           f'{sorted(ARCH_SETTINGS)}')
        preset = ARCH_SETTINGS[arch]
        num_modules = tuple(num_modules or preset['num_modules'])
        num_channels = tuple(
            tuple(c) for c in (num_channels or preset['num_channels']))
        num_branches = tuple(num_branches or
                             [len(c) for c in num_channels])
        if len(num_modules) != 3 or len(num_branches) != 3:
            raise ValueError('num_modules and num_branches need one entry '
                             'for each of stages 2, 3, 4')
        num_blocks = _per_branch(num_blocks or preset['num_blocks'],
                                 num_branches, 'num_blocks')
        num_channels = _per_branch(num_channels, num_branches, 'num_channels')
        num_heads = _per_branch(num_heads or preset['num_heads'],
                                num_branches, 'num_heads')
        mlp_ratios = _per_branch(mlp_ratios, num_branches, 'mlp_ratios')
        window_sizes = _per_branch(window_sizes, num_branches, 'window_sizes')
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f'HRFormer: frozen_stages must be in [-1, 4], '
                             f'got {frozen_stages}')
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f'HRFormer: drop_path_rate must be in [0, 1), '
                             f'got {drop_path_rate}')

        self.arch = arch
        self.num_modules = num_modules
        self.num_branches = num_branches
        self.num_blocks = num_blocks
        self.num_channels = num_channels
        self.num_heads = num_heads
        self.mlp_ratios = mlp_ratios
        self.window_sizes = window_sizes
        self.drop_path_rate = drop_path_rate
        self.norm_cfg = norm_cfg = norm_cfg or dict(
            type='BN', requires_grad=True)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        # stem
        self.conv1 = nn.Conv2d(
            in_channels, stem_channels, 3, stride=2, padding=1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, stem_channels)[1]
        self.conv2 = nn.Conv2d(
            stem_channels, stem_channels, 3, stride=2, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, stem_channels)[1]
        self.relu = nn.ReLU(inplace=True)

        # stage 1
        layers = []
        channels = stem_channels
        for _ in range(num_bottlenecks):
            layers.append(
                Bottleneck(channels, bottleneck_planes, norm_cfg=norm_cfg))
            channels = bottleneck_planes * Bottleneck.expansion
        self.layer1 = nn.Sequential(*layers)

        # stages 2-4: one drop path rate per depth step
        depths = [m * max(b) for m, b in zip(num_modules, num_blocks)]
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        pre_channels = [channels]
        start = 0
        for s in range(3):
            transition = self._transition(pre_channels, num_channels[s],
                                          norm_cfg)
            setattr(self, f'transition{s + 1}', transition)
            modules = []
            for m in range(num_modules[s]):
                depth = max(num_blocks[s])
                modules.append(
                    HRFormerModule(
                        num_channels[s],
                        num_blocks[s],
                        num_heads[s],
                        window_sizes[s],
                        mlp_ratios[s],
                        rates[start:start + depth],
                        norm_cfg,
                        mask_padding=mask_padding,
                        fused_attn=fused_attn))
                start += depth
            setattr(self, f'stage{s + 2}', nn.Sequential(*modules))
            pre_channels = list(num_channels[s])
        self.out_channels = tuple(pre_channels)
        if activation_memory is not None:
            set_activation_memory(self, activation_memory)
        self._freeze_stages()

    @staticmethod
    def _transition(pre: Sequence[int], cur: Sequence[int],
                    norm_cfg: dict) -> nn.ModuleList:
        layers = nn.ModuleList()
        for i, c in enumerate(cur):
            if i < len(pre):
                if c == pre[i]:
                    layers.append(None)
                else:
                    layers.append(
                        nn.Sequential(*_conv_bn(pre[i], c, 3, 1, 1, norm_cfg),
                                      nn.ReLU(inplace=True)))
            else:  # new branch from the lowest resolution
                steps = []
                for k in range(i + 1 - len(pre)):
                    out = c if k == i - len(pre) else pre[-1]
                    steps.append(
                        nn.Sequential(
                            *_conv_bn(pre[-1], out, 3, 2, 1, norm_cfg),
                            nn.ReLU(inplace=True)))
                layers.append(nn.Sequential(*steps))
        return layers

    @staticmethod
    def _apply_transition(transition: nn.ModuleList,
                          xs: List[Tensor]) -> List[Tensor]:
        """Existing branch ``i`` goes through its layer (if any) from
        ``xs[i]``, a new branch from ``xs[-1]``. (The official code feeds
        ``xs[-1]`` to every layer of stages 3 and 4; the two agree whenever
        existing branches keep their channels, as in HRFormer-S/B.)"""
        out = []
        for i, layer in enumerate(transition):
            if i < len(xs):
                out.append(xs[i] if layer is None else layer(xs[i]))
            else:
                out.append(layer(xs[-1]))
        return out

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract features.

        Args:
            x: (N, C_in, H, W) images, any H and W.

        Returns:
            Tuple of the last stage's branches; branch ``b`` has shape (N,
            ``out_channels[b]``, H_b, W_b) with ``H_b`` the size after ``2 +
            b`` stride-2 convolutions (``ceil(H / 2^(2+b))`` in general).
        """
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for s in range(3):
            xs = self._apply_transition(
                getattr(self, f'transition{s + 1}'), xs)
            xs = getattr(self, f'stage{s + 2}')(xs)
        return tuple(xs)

    def _stage_modules(self, stage: int) -> List[nn.Module]:
        if stage == 0:
            return [self.conv1, self.bn1, self.conv2, self.bn2]
        if stage == 1:
            return [self.layer1]
        return [
            getattr(self, f'transition{stage - 1}'),
            getattr(self, f'stage{stage}')
        ]

    def _freeze_stages(self) -> None:
        for stage in range(self.frozen_stages + 1):
            for module in self._stage_modules(stage):
                module.eval()
                for param in module.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True) -> 'HRFormer':
        """Switch mode, keeping frozen stages (and with ``norm_eval`` all
        BatchNorm layers) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def init_weights(self) -> None:
        """Load ``init_cfg``'s pretrained checkpoint, or run mmengine's
        initialisation. Layers start from PyTorch's defaults and the relative
        position bias tables from a truncated normal (std 0.02), as in the
        official code."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.load_pretrained(cfg['checkpoint'], prefix=cfg.get('prefix'))
            self._is_init = True
        else:
            super().init_weights()

    def load_pretrained(self,
                        path: str,
                        prefix: Optional[str] = None) -> Tuple[list, list]:
        """Load weights from a file (ours or the official layout).

        Args:
            path: checkpoint file; weights under 'state_dict', 'model' or at
                the top level. Loaded with ``weights_only=True``.
            prefix: keep only keys starting with it and strip it (e.g.
                'backbone.' for a whole-segmentor checkpoint).

        Returns:
            (missing_keys, unexpected_keys), also logged.
        """
        state_dict = load_state_dict_file(path)
        if prefix:
            state_dict = {
                k[len(prefix):]: v
                for k, v in state_dict.items() if k.startswith(prefix)
            }
            if not state_dict:
                raise KeyError(f'no key of {path} starts with {prefix!r}')
        if is_official_hrformer(state_dict):
            print_log(f'{path}: official HRFormer layout, converting',
                      logger='current')
            state_dict = convert_official_hrformer(
                state_dict, window_size=self.window_sizes)
        else:
            state_dict = resize_relative_position_bias_tables(
                state_dict, self.window_sizes)
        own = self.state_dict()
        for key, value in state_dict.items():
            if key in own and own[key].shape != value.shape:
                raise ValueError(
                    f'{path}: {key} has shape {tuple(value.shape)}, the '
                    f'model expects {tuple(own[key].shape)}')
        missing, unexpected = self.load_state_dict(state_dict, strict=False)
        print_log(f'loaded {path}', logger='current')
        if missing:
            print_log(f'missing keys in {path}: {missing}', logger='current',
                      level=30)
        if unexpected:
            print_log(f'unexpected keys in {path}: {unexpected}',
                      logger='current', level=30)
        return missing, unexpected
