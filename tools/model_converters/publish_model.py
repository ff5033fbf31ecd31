"""Turn a training checkpoint into a model bundle folder.

    python tools/model_converters/publish_model.py CHECKPOINT OUT_DIR
        [--config CONFIG] [--name NAME]

OUT_DIR gets:

- ``config.py``: the training config (class count filled in, no
  ``load_from``/``resume``, no ImageNet ``init_cfg``);
- ``weights.pth``: a weights-only checkpoint (``state_dict`` and
  ``meta.dataset_meta``; no optimizer state), loadable with
  ``torch.load(weights_only=True)``;
- ``classes.json``: the class names and palette;
- ``README.md``: a model card with the classes, the training length and
  the validation/test metrics found in the checkpoint's work dir
  (validations in training, tools/test.py runs), and the SHA-256 of the
  weights.

``hrformer_seg.apis.init_model(OUT_DIR)`` and ``SegInferencer(OUT_DIR)``
load the bundle. CONFIG defaults to the config mmengine saved in the
checkpoint's work dir (the only ``*.py`` there).
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
from typing import List, Optional, Tuple

from mmengine.config import Config

from hrformer_seg.apis.inference import (
    BUNDLE_CLASSES,
    BUNDLE_CONFIG,
    BUNDLE_WEIGHTS,
    config_dataset_meta,
    drop_pretrained,
)
from hrformer_seg.engine import atomic_save
from hrformer_seg.utils import (
    extract_state_dict,
    load_checkpoint_file,
    resolve_num_classes,
)

METRIC_KEYS = ('mIoU', 'mAcc', 'aAcc')


def find_config(work_dir: str) -> str:
    """The config mmengine dumped into ``work_dir``."""
    found = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if len(found) != 1:
        raise FileNotFoundError(
            f'{len(found)} config files in {work_dir} '
            f'({", ".join(map(osp.basename, found)) or "none"}): name the '
            "training config with --config")
    return found[0]


def _last_metrics(path: str) -> Optional[dict]:
    last = None
    with open(path) as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and 'mIoU' in record:
                last = record
    return last


def find_metrics(work_dir: str) -> List[Tuple[str, dict]]:
    """(run, last metrics record) of each run under ``work_dir``: the
    validations of training runs (``TIMESTAMP/vis_data/scalars.json``) and
    the tools/test.py runs (``TIMESTAMP/TIMESTAMP.json``, in the work dir
    given to tools/test.py)."""
    runs = []
    for path in sorted(glob.glob(osp.join(work_dir, '**', '*.json'),
                                 recursive=True)):
        folder, name = osp.split(path)
        if name == 'scalars.json' and osp.basename(folder) == 'vis_data':
            run = 'validation ' + osp.relpath(osp.dirname(folder), work_dir)
        elif name == osp.basename(folder) + '.json':
            run = 'test ' + osp.relpath(folder, work_dir)
        else:
            continue
        record = _last_metrics(path)
        if record is not None:
            runs.append((run, record))
    return runs


def model_card(name: str, cfg: Config, meta: dict, dataset_meta: dict,
               runs: List[Tuple[str, dict]], sha256: str) -> str:
    classes = dataset_meta['classes']
    palette = dataset_meta.get('palette') or [None] * len(classes)
    backbone = cfg.model.get('backbone', {})
    lines = [
        f'# {name}', '',
        f'{cfg.model.get("type", "model")} with a {backbone.get("type")} '
        f'backbone (arch {backbone.get("arch", "?")!r}), '
        f'{len(classes)} classes, trained for {meta.get("iter", "?")} '
        'iterations.', '',
        '## Use', '', '```python',
        'from hrformer_seg.apis import SegInferencer',
        f"inferencer = SegInferencer('{name}')  # this folder",
        "result = inferencer('photos/', out_dir='out')",
        '```', '',
        '## Metrics', '']
    if runs:
        lines += ['| run | step | ' + ' | '.join(METRIC_KEYS) + ' |',
                  '|---|---|' + '---|' * len(METRIC_KEYS)]
        for run, record in runs:
            values = ' | '.join(
                f'{record[k]:.2f}' if isinstance(record.get(k), (int, float))
                else '-' for k in METRIC_KEYS)
            lines.append(f'| {run} | {record.get("step", "-")} | {values} |')
    else:
        lines.append('No validation or test metrics were found in the work '
                     'dir.')
    lines += ['', '## Classes', '', '| index | class | colour (RGB) |',
              '|---|---|---|']
    lines += [f'| {i} | {c} | {tuple(p) if p else "-"} |'
              for i, (c, p) in enumerate(zip(classes, palette))]
    lines += ['', '## Files', '',
              f'- `{BUNDLE_CONFIG}`: the config',
              f'- `{BUNDLE_WEIGHTS}`: the weights (SHA-256 {sha256})',
              f'- `{BUNDLE_CLASSES}`: class names and palette', '']
    return '\n'.join(lines)


def publish(checkpoint: str, out_dir: str, config: Optional[str] = None,
            name: Optional[str] = None) -> str:
    """Write the bundle; returns ``out_dir``."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    work_dir = osp.dirname(osp.abspath(checkpoint))
    config = config or find_config(work_dir)
    cfg = Config.fromfile(config)
    num_classes = resolve_num_classes(cfg)
    loaded = load_checkpoint_file(checkpoint, map_location='cpu')
    state_dict = extract_state_dict(loaded, checkpoint)
    meta = (loaded.get('meta') or {}) if isinstance(loaded, dict) else {}
    dataset_meta = meta.get('dataset_meta')
    if not dataset_meta or 'classes' not in dataset_meta:
        dataset_meta = config_dataset_meta(cfg, num_classes)
    dataset_meta = dict(
        classes=list(dataset_meta['classes']),
        palette=[list(map(int, c)) for c in dataset_meta.get('palette')
                 or []] or None)
    os.makedirs(out_dir, exist_ok=True)
    weights = osp.join(out_dir, BUNDLE_WEIGHTS)
    atomic_save(dict(state_dict=state_dict,
                     meta=dict(dataset_meta=dataset_meta,
                               iter=meta.get('iter'))), weights)
    with open(weights, 'rb') as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    for key in ('load_from', 'resume', 'work_dir', 'launcher'):
        cfg.pop(key, None)
    drop_pretrained(cfg.model)
    cfg.dump(osp.join(out_dir, BUNDLE_CONFIG))
    with open(osp.join(out_dir, BUNDLE_CLASSES), 'w') as f:
        json.dump(dataset_meta, f, indent=1)
    name = name or osp.basename(osp.normpath(out_dir))
    with open(osp.join(out_dir, 'README.md'), 'w') as f:
        f.write(model_card(name, cfg, meta, dataset_meta,
                           find_metrics(work_dir), sha256))
    return out_dir


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a model bundle folder from a training checkpoint')
    parser.add_argument('checkpoint', help='training checkpoint (.pth)')
    parser.add_argument('out_dir', help='bundle folder to write')
    parser.add_argument('--config', help='training config (default: the '
                        "one in the checkpoint's work dir)")
    parser.add_argument('--name', help='model name in the card')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    out = publish(args.checkpoint, args.out_dir, args.config, args.name)
    print(f'model bundle written to {out}')
    return out


if __name__ == '__main__':
    main()
