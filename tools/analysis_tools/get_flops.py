"""FLOPs and parameters of a segmentor, per module, at a given input size.

    python tools/analysis_tools/get_flops.py CONFIG --shape 512 1024
        [--max-depth 3] [--cfg-options k=v ...]

FLOPs as every tool of the project counts them (``benchmarks/flops.py``,
shared with ``benchmark.py``): GFLOP = 2 x multiply-adds, convolutions,
matrix products and attention as executed. Counted here: the network
forward of one image, ``model(inputs, mode='tensor')`` (backbone and every
decode stage, auxiliary FCN included, up to the head's stride-4 logits).
Not counted: element-wise work (norms, activations, softmax, additions,
resizing, the final resize to the input size).
"""
import argparse
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from _benchmarks import import_benchmarks

from hrformer_seg.apis import init_model
from hrformer_seg.utils.tool_setup import add_cfg_options

#: ``benchmarks.flops``: the FLOP count shared with benchmark.py
flop_count = import_benchmarks('flops')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
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
    add_cfg_options(parser)
    return parser.parse_args(argv)


def module_table(model: nn.Module, by_module: Dict[str, int],
                 max_depth: int) -> str:
    """Parameters and GFLOP of the model and its modules down to
    ``max_depth`` (1: the model's children), in definition order; 0 for a
    module without counted work (a norm) or that did not run."""
    rows = [f'| module | parameters | {flop_count.UNIT} |', '|---|---|---|']
    total = sum(p.numel() for p in model.parameters())
    rows.append(f'| (model) | {total:,} | '
                f'{by_module.get("", 0) / 1e9:.3f} |')
    for name, module in model.named_modules():
        if not name or name.count('.') >= max_depth:
            continue
        params = sum(p.numel() for p in module.parameters())
        gflop = by_module.get(name, 0) / 1e9
        rows.append(f'| {name} | {params:,} | {gflop:.3f} |')
    return '\n'.join(rows)


def count(config: Any, shape: Sequence[int], max_depth: int = 3,
          cfg_options: Optional[dict] = None) -> Dict[str, Any]:
    """FLOPs (2 per multiply-add) and parameters of the model of ``config``.

    Args:
        config: config file or Config.
        shape: (H, W) of the input image.
        max_depth: depth of the module table.
        cfg_options: overrides for the config.

    Returns:
        dict(flops, params, by_module (attribute path -> FLOPs of every
        module that ran, '' the whole forward), table).
    """
    model = init_model(config, None, device='cpu', cfg_options=cfg_options)
    model.eval()
    inputs = torch.randn(1, 3, *shape)
    with torch.no_grad():
        total, per_module = flop_count.count_flops(
            lambda: model(inputs, mode='tensor'))
    by_module = flop_count.flops_by_path(per_module)
    by_module[''] = total
    params = sum(p.numel() for p in model.parameters())
    return dict(flops=total, params=params, by_module=by_module,
                table=module_table(model, by_module, max_depth))


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
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
        f'{name} {by_module[name] / 1e9:.3f}'
        for name in ('backbone', 'decode_head', 'auxiliary_head', 'neck')
        if by_module.get(name))
    line = '=' * 60
    print(f'{line}\nInput shape: (1, 3, {shape[0]}, {shape[1]})\n'
          f'{flop_count.UNIT}: {result["flops"] / 1e9:.3f}'
          f' ({split})\nParams: {result["params"] / 1e6:.2f} M'
          f' ({result["params"]:,})\n{line}')
    return result


if __name__ == '__main__':
    main()
