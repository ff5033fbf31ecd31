"""How much bf16 inference changes a trained model's predictions.

    python -m benchmarks.precision_check CONFIG CHECKPOINT [--limit N]

(from the repository root). Runs the config's validation set through the
checkpoint twice, in float32 and under ``torch.autocast('cpu',
dtype=torch.bfloat16)`` (the model as ``init_model`` builds it, whole-image
test of the config), and prints the fraction of pixels whose predicted
class agrees and the validation metrics of both (the config's
``val_evaluator``). The device is the CPU.
"""
import argparse
import json
from typing import Any, Dict, List, Optional

import torch


def _metric(cfg: Any, dataset_meta: dict) -> Any:
    from hrformer_seg.registry import METRICS
    evaluator = cfg.val_evaluator
    if isinstance(evaluator, (list, tuple)):
        evaluator = evaluator[0]
    metric = METRICS.build(dict(evaluator))
    metric.dataset_meta = dataset_meta
    return metric


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--limit', type=int, default=None,
                        help='only the first N validation images')
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from hrformer_seg.apis import init_model
    from hrformer_seg.utils.precision import cpu_summary

    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'hrformer_seg'))
    model = init_model(cfg, args.checkpoint)
    loader_cfg = dict(cfg.val_dataloader, batch_size=1, num_workers=0,
                      persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    metrics = {name: _metric(cfg, model.dataset_meta)
               for name in ('float32', 'bfloat16')}
    same = total = images = 0
    for data in loader:
        if args.limit is not None and images >= args.limit:
            break
        preds = {}
        for name, dtype in (('float32', None), ('bfloat16', torch.bfloat16)):
            with torch.no_grad(), torch.autocast(
                    'cpu', dtype=dtype, enabled=dtype is not None):
                outputs = model.test_step(data)
            metrics[name].process(data, outputs)
            preds[name] = outputs[0].pred_sem_seg.data
        same += int((preds['float32'] == preds['bfloat16']).sum())
        total += preds['float32'].numel()
        images += 1
    results = {name: metric.evaluate(images)
               for name, metric in metrics.items()}
    agreement = same / max(total, 1)
    miou = {name: r['mIoU'] for name, r in results.items()}
    print(f'CPU: {cpu_summary()}; {images} images of {args.config}')
    print(f'pixel agreement bf16 vs float32: {100 * agreement:.3f}%')
    print(f"mIoU float32 {miou['float32']:.2f}, bf16 {miou['bfloat16']:.2f}"
          f" (difference {miou['bfloat16'] - miou['float32']:+.2f})")
    summary = dict(images=images, pixel_agreement=agreement, metrics=results,
                   cpu=cpu_summary())
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(summary, f, indent=1)
    return summary


if __name__ == '__main__':
    main()
