"""Export a trained segmentor to ONNX and check it against PyTorch.

    python tools/deployment/pytorch2onnx.py CONFIG CKPT --shape H W OUT.onnx
        [--exporter torchscript|dynamo] [--static] [--opset 18]
        [--no-verify] [--device cpu]

The ONNX model is the whole segmentor in whole-image mode:

- input ``image``: (N, 3, H, W) float32, **RGB, pixel values 0-255** (no
  normalisation needed: the data preprocessor's mean/std and channel order
  are part of the graph);
- output ``logits``: (N, K, H, W) float32 class scores at the input size
  (bilinear resize included); ``argmax`` over K gives the train IDs.

The batch axis is dynamic unless ``--static``; height and width are fixed
at ``--shape``: the window attention pads each feature map to a multiple of
the window size and the branch fusion resizes to the exact size of each
branch, and neither exporter keeps those computations symbolic (torch.export
specialises the spatial sizes; the TorchScript tracer freezes them as
constants). ``onnx_inference.py`` resizes images to the model's size and the
logits back. The class names and palette are stored in the model's metadata
(``classes``, ``palette``: json) for ``tools/deployment/onnx_inference.py``.

Verification (onnxruntime, CPU) runs on random images at the export shape
and, with a dynamic batch, at a batch of three. It passes when
``max|onnx - torch| <= 1e-4 * max|torch|`` and the arg-max agrees on at
least 99.9% of the pixels.

Exporters (torch 2.13; both verified on HRFormer-S + OCR at 512x1024 with
relative differences below 2e-6): ``torchscript`` (default; the tracer,
which torch marks deprecated; needs only ``onnx``; about three times faster
to export) and ``dynamo`` (``torch.export``; needs the ``onnxscript``
package).
"""
import argparse
import json
import os.path as osp
import time
import warnings
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from hrformer_seg.apis import init_model


class OnnxSegmentor(nn.Module):
    """RGB 0-255 images -> logits at the input size, for export.

    Args:
        model: a segmentor with ``encode_decode`` and a
            ``SegDataPreProcessor`` (its mean, std and channel flip are
            folded into the graph).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        pre = model.data_preprocessor
        # the pipeline loads BGR; a preprocessor without channel conversion
        # feeds BGR to the network, so RGB input must be flipped for it
        self.flip_to_bgr = not getattr(pre, 'channel_conversion', False)
        if getattr(pre, '_enable_normalize', False):
            mean, std = pre.mean.detach().clone(), pre.std.detach().clone()
        else:
            mean, std = torch.zeros(3, 1, 1), torch.ones(3, 1, 1)
        self.register_buffer('mean', mean.view(1, -1, 1, 1))
        self.register_buffer('std', std.view(1, -1, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB 0-255 -> (N, K, H, W) logits."""
        x = image.flip(1) if self.flip_to_bgr else image
        x = (x - self.mean) / self.std
        return self.model.encode_decode(x)


def export(model: nn.Module,
           out_file: str,
           shape: Tuple[int, int],
           exporter: str = 'torchscript',
           dynamic_batch: bool = True,
           opset: Optional[int] = None,
           metadata: Optional[Dict[str, str]] = None) -> OnnxSegmentor:
    """Write ``out_file``; returns the wrapped module that was exported.

    Args:
        model: the segmentor (eval mode, CPU).
        out_file: the .onnx file.
        shape: (H, W) of the model input.
        exporter: 'dynamo' (torch.export) or 'torchscript' (tracer).
        dynamic_batch: make the batch axis dynamic.
        opset: ONNX opset; default: the exporter's.
        metadata: string entries added to the model's ``metadata_props``.
    """
    wrapped = OnnxSegmentor(model).eval()
    # torch.export specialises axes of size 1: trace with a batch of two
    example = torch.rand(2 if dynamic_batch else 1, 3, *shape) * 255
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if exporter == 'dynamo':
            dynamic_shapes = None
            if dynamic_batch:
                dynamic_shapes = {
                    'image': {0: torch.export.Dim('batch', max=1024)}}
            torch.onnx.export(
                wrapped, (example, ), out_file, dynamo=True,
                input_names=['image'], output_names=['logits'],
                dynamic_shapes=dynamic_shapes, opset_version=opset,
                external_data=False, optimize=True)
        elif exporter == 'torchscript':
            dynamic_axes = None
            if dynamic_batch:
                dynamic_axes = {'image': {0: 'batch'}, 'logits': {0: 'batch'}}
            torch.onnx.export(
                wrapped, (example, ), out_file, dynamo=False,
                input_names=['image'], output_names=['logits'],
                dynamic_axes=dynamic_axes, opset_version=opset or 17,
                do_constant_folding=True)
        else:
            raise ValueError(f'unknown exporter {exporter!r}')
    if metadata:
        import onnx
        proto = onnx.load(out_file)
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, out_file)
    _check_batch_axis(out_file, dynamic_batch)
    return wrapped


def _check_batch_axis(out_file: str, dynamic_batch: bool) -> None:
    """torch.onnx falls back to static shapes silently: check the result."""
    import onnx
    dims = onnx.load(out_file, load_external_data=False).graph.input[0] \
        .type.tensor_type.shape.dim
    if dynamic_batch and dims[0].dim_param == '':
        raise RuntimeError(f'{out_file}: the exporter fixed the batch axis '
                           f'to {dims[0].dim_value}; use --static')


def compare(reference: np.ndarray, candidate: np.ndarray) -> Dict[str, float]:
    """Parity figures of two (N, K, H, W) logit arrays."""
    diff = np.abs(reference.astype(np.float64) - candidate)
    scale = float(np.abs(reference).max())
    return dict(
        max_abs=float(diff.max()),
        rel=float(diff.max() / max(scale, 1e-12)),
        argmax_agree=float(
            (reference.argmax(1) == candidate.argmax(1)).mean()))


def verify(wrapped: OnnxSegmentor,
           onnx_file: str,
           shapes: Sequence[Tuple[int, int, int]],
           rel_tol: float = 1e-4,
           min_agree: float = 0.999,
           seed: int = 0) -> list:
    """Run PyTorch and onnxruntime on random images of each (N, H, W).

    Returns:
        One dict per shape: shape, max_abs, rel, argmax_agree, ok, and the
        run times of both.

    Raises:
        AssertionError: a shape fails the tolerances (message has figures).
    """
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    rng = np.random.RandomState(seed)
    reports = []
    for batch, height, width in shapes:
        image = (rng.rand(batch, 3, height, width) * 255).astype(np.float32)
        start = time.perf_counter()
        with torch.no_grad():
            reference = wrapped(torch.from_numpy(image)).numpy()
        torch_time = time.perf_counter() - start
        start = time.perf_counter()
        (candidate, ) = session.run(['logits'], {'image': image})
        ort_time = time.perf_counter() - start
        figures = compare(reference, candidate)
        figures.update(shape=(batch, 3, height, width),
                       torch_s=torch_time, onnxruntime_s=ort_time,
                       ok=figures['rel'] <= rel_tol
                       and figures['argmax_agree'] >= min_agree)
        reports.append(figures)
    failed = [r for r in reports if not r['ok']]
    if failed:
        raise AssertionError(
            f'{onnx_file} differs from PyTorch: {failed} (tolerance: '
            f'rel <= {rel_tol}, argmax agreement >= {min_agree})')
    return reports


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a segmentor to ONNX (whole-image mode)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 1024],
                        metavar=('H', 'W'),
                        help='example input size used for the export')
    parser.add_argument('output', help='output .onnx file')
    parser.add_argument('--exporter', default='torchscript',
                        choices=['dynamo', 'torchscript'])
    parser.add_argument('--static', action='store_true',
                        help='fixed batch size 1 (default: dynamic batch)')
    parser.add_argument('--opset', type=int, default=None,
                        help='ONNX opset (default: the exporter\'s)')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime comparison')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    for path, what in ((args.config, 'config'),
                       (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path}')
    model = init_model(args.config, args.checkpoint, device=args.device)
    model.cpu()
    model.test_cfg = dict(model.test_cfg, mode='whole')
    meta = model.dataset_meta
    height, width = args.shape
    wrapped = export(
        model, args.output, (height, width), args.exporter,
        dynamic_batch=not args.static, opset=args.opset,
        metadata=dict(classes=json.dumps(list(meta['classes'])),
                      palette=json.dumps([list(map(int, c)) for c in
                                          meta['palette']])))
    print(f'ONNX model written to {args.output} '
          f'({osp.getsize(args.output) / 2**20:.1f} MiB, exporter '
          f'{args.exporter}, input (' +
          ('1' if args.static else 'batch') + f', 3, {height}, {width}))')
    if args.no_verify:
        return []
    shapes = [(1, height, width)]
    if not args.static:
        shapes.append((3, height, width))
    reports = verify(wrapped, args.output, shapes)
    for r in reports:
        print(f'input {r["shape"]}: max |diff| {r["max_abs"]:.3g}, '
              f'relative {r["rel"]:.3g}, argmax agreement '
              f'{r["argmax_agree"] * 100:.4f}% (torch {r["torch_s"]:.2f} s, '
              f'onnxruntime {r["onnxruntime_s"]:.2f} s)')
    print('verification passed')
    return reports


if __name__ == '__main__':
    main()
