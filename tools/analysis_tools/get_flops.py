"""FLOPs and parameters of a segmentor, per module, at a given input size.

    python tools/analysis_tools/get_flops.py CONFIG --shape 512 1024
        [--max-depth 3] [--cfg-options k=v ...]

Counted by mmengine's ``FlopAnalyzer`` (a jit trace, fvcore rules): one
multiply-add counts as one FLOP, so the totals are multiply-accumulates
(GMAC); many papers double them. Counted: the network forward of one image
(backbone and every decode stage, auxiliary FCN included, up to the head's
stride-4 logits); not counted: the final resize to the input size and
element-wise operations fvcore skips (softmax, GELU, additions). The fused
attention kernel (``aten::scaled_dot_product_attention``) is counted as its
two matrix products.
"""
import argparse

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from mmengine.analysis.print_helper import (_format_size,
                                            complexity_stats_table)
from mmengine.config import DictAction

from hrformer_seg.apis import init_model


def sdpa_flop_jit(inputs, outputs) -> int:
    """Multiply-adds of ``aten::scaled_dot_product_attention``.

    q (..., L, E), k (..., S, E), v (..., S, Ev): ``q @ k^T`` costs
    ``L * S * E`` and ``attn @ v`` ``L * S * Ev`` per leading index.
    """
    q_shape, k_shape, v_shape = (get_shape(v) for v in inputs[:3])
    batch = 1
    for size in q_shape[:-2]:
        batch *= size
    length, embed = q_shape[-2:]
    source = k_shape[-2]
    return batch * length * source * (embed + v_shape[-1])


class _TensorForward(nn.Module):
    """``model._forward(x)``: raw logits of a normalised batch."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model._forward(inputs)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Count FLOPs and parameters of a segmentor')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=[512, 1024],
        help='input size: H W (or one number for a square image)')
    parser.add_argument(
        '--max-depth', type=int, default=3,
        help='module depth of the per-module table')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    return parser.parse_args(argv)


def count(config, shape, max_depth: int = 3, cfg_options=None) -> dict:
    """FLOPs (multiply-adds) and parameters of the model of ``config``.

    Args:
        config: config file or Config.
        shape: (H, W) of the input image.
        max_depth: depth of the module table.
        cfg_options: overrides for the config.

    Returns:
        dict(flops, params, by_module (name -> flops), table, unsupported
        (op name -> count of ops whose FLOPs were not counted)).
    """
    model = init_model(config, None, device='cpu', cfg_options=cfg_options)
    wrapped = _TensorForward(model).eval()
    inputs = torch.randn(1, 3, *shape)
    with torch.no_grad():
        analyzer = FlopAnalyzer(wrapped, (inputs, ))
        analyzer.set_op_handle(
            'aten::scaled_dot_product_attention', sdpa_flop_jit)
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        flops = analyzer.total()
        by_module = {name[len('model.'):] if name.startswith('model.') else
                     name: value for name, value in
                     analyzer.by_module().items()}
        table = complexity_stats_table(
            analyzer, max_depth=max_depth + 1, show_param_shapes=False)
        unsupported = dict(analyzer.unsupported_ops())
    params = parameter_count(model)['']
    return dict(flops=flops, params=params, by_module=by_module, table=table,
                unsupported=unsupported)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if len(args.shape) == 1:
        shape = (args.shape[0], args.shape[0])
    elif len(args.shape) == 2:
        shape = tuple(args.shape)
    else:
        raise ValueError(f'--shape takes H W or one size, got {args.shape}')
    result = count(args.config, shape, args.max_depth,
                   args.cfg_options)
    by_module = result['by_module']
    print(result['table'])
    split = ', '.join(
        f'{name} {_format_size(by_module[name])}'
        for name in ('backbone', 'decode_head', 'auxiliary_head', 'neck')
        if by_module.get(name))
    line = '=' * 60
    print(f'{line}\nInput shape: (1, 3, {shape[0]}, {shape[1]})\n'
          f'FLOPs (multiply-adds): {_format_size(result["flops"])}'
          f' ({split})\nParams: {_format_size(result["params"])}'
          f' ({result["params"]:,})\n{line}')
    if result['unsupported']:
        print('Operators not counted: ' + ', '.join(
            f'{op} x{n}' for op, n in sorted(result['unsupported'].items())))
    return result


if __name__ == '__main__':
    main()
