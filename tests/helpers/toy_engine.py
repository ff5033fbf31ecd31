"""Tiny stand-ins for the segmentor and the dataset, for the engine tests.

Imported by the toy config (``toy_config.py``) through ``custom_imports``
as ``tests.helpers.toy_engine`` (the repository root on the import path).
They keep what matters for resuming and checkpoints:

- the model draws from torch's global RNG in training (a drop-path-like
  per-sample mask and dropout), returns two named loss terms and can inject a
  NaN at a chosen iteration;
- the dataset pipeline draws from numpy (mmcv's ``RandomFlip``), python
  ``random`` and torch inside the data loader workers, and can log every
  sample it loads to a file (to count re-read images);
- ``KillAtIterHook`` SIGKILLs the process at a chosen iteration (on the first
  torchrun attempt only), ``KillDuringSaveHook`` SIGKILLs it in the middle of
  writing a checkpoint file.
"""
import os
import random
import signal
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel

from hrformer_seg.registry import DATASETS, HOOKS, MODELS, TRANSFORMS


@MODELS.register_module()
class ToyEngineSegmentor(BaseModel):
    """Two convolutions with stochastic depth-like masking and dropout.

    Args:
        num_classes: number of output classes.
        drop_prob: probability to drop a sample's features (training only).
        nan_at_iter: iteration (0-based, from the message hub) at which the
            loss ``loss_ce`` becomes NaN; None never.
        nan_in: ``'loss'`` (only ``loss_ce`` is NaN) or ``'features'`` (the
            input of the BN layer, so its running statistics too).
        widths: hidden channels (change it to get a model of another shape).
    """

    def __init__(self,
                 num_classes: int = 4,
                 drop_prob: float = 0.3,
                 nan_at_iter: Optional[int] = None,
                 nan_in: str = 'loss',
                 widths: int = 8,
                 data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.conv1 = nn.Conv2d(3, widths, 3, padding=1)
        self.bn = nn.BatchNorm2d(widths)
        self.cls = nn.Conv2d(widths, num_classes, 1)
        self.aux = nn.Conv2d(widths, num_classes, 1)
        self.drop_prob = drop_prob
        self.nan_at_iter = nan_at_iter
        self.nan_in = nan_in

    def forward(self,
                inputs: List[torch.Tensor],
                data_samples: Optional[List[torch.Tensor]] = None,
                mode: str = 'tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        nan_now = self.training and self.nan_at_iter is not None and (
            MessageHub.get_current_instance().get_info('iter')
            == self.nan_at_iter)
        feat = self.conv1(x)
        if nan_now and self.nan_in == 'features':
            feat = feat * float('nan')
        feat = F.relu(self.bn(feat))
        if self.training and self.drop_prob > 0:
            keep = (torch.rand(feat.shape[0], 1, 1, 1) >= self.drop_prob)
            feat = feat * keep.to(feat.dtype) / (1 - self.drop_prob)
        logits = self.cls(feat)
        if mode == 'tensor':
            return logits
        if mode == 'predict':
            return [logit.argmax(0) for logit in logits]
        target = torch.stack(data_samples)
        aux = self.aux(F.dropout(feat, 0.2, training=self.training))
        loss_ce = F.cross_entropy(logits, target)
        if nan_now and self.nan_in == 'loss':
            loss_ce = loss_ce * float('nan')
        return dict(loss_ce=loss_ce,
                    loss_aux=0.4 * F.cross_entropy(aux, target))


@DATASETS.register_module()
class ToyEngineDataset(BaseDataset):
    """``num_samples`` generated images, identified by their index."""

    METAINFO = dict(classes=('road', 'car', 'sky', 'tree'))

    def __init__(self, num_samples: int = 16, **kwargs) -> None:
        self.num_samples = num_samples
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(sample_id=i) for i in range(self.num_samples)]


@TRANSFORMS.register_module()
class ToyEngineLoad(BaseTransform):
    """Makes the image of a sample from its id; logs the read if asked.

    Args:
        size: image height and width.
        log_file: a file to which ``<sample_id>`` is appended per load.
    """

    def __init__(self, size: int = 8, log_file: Optional[str] = None) -> None:
        self.size = size
        self.log_file = log_file

    def transform(self, results: dict) -> dict:
        rng = np.random.RandomState(results['sample_id'])
        results['img'] = rng.rand(self.size, self.size, 3).astype(np.float32)
        results['gt_seg_map'] = rng.randint(
            0, 4, (self.size, self.size)).astype(np.int64)
        results['img_shape'] = (self.size, self.size)
        if self.log_file is not None:
            with open(self.log_file, 'a') as f:
                f.write(f"{results['sample_id']}\n")
        return results


@TRANSFORMS.register_module()
class ToyEngineJitter(BaseTransform):
    """Random brightness (python ``random``) and noise (torch)."""

    def transform(self, results: dict) -> dict:
        scale = random.uniform(0.5, 1.5)
        noise = torch.rand(results['img'].shape).numpy() * 0.1
        results['img'] = results['img'] * scale + noise
        return results


@TRANSFORMS.register_module()
class ToyEnginePack(BaseTransform):
    """Image to (3, H, W) float tensor, label map to (H, W) long tensor."""

    def transform(self, results: dict) -> dict:
        img = np.ascontiguousarray(results['img'].transpose(2, 0, 1))
        seg = np.ascontiguousarray(results['gt_seg_map'])
        return dict(inputs=torch.from_numpy(img).float(),
                    data_samples=torch.from_numpy(seg).long())


def _first_attempt() -> bool:
    return int(os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')) == 0


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILLs this process before iteration ``kill_iter`` (0-based) runs.

    Args:
        kill_iter: the iteration at which to die.
        rank: only this rank dies (None: every rank).
    """

    priority = 'VERY_HIGH'

    def __init__(self, kill_iter: int, rank: Optional[int] = None) -> None:
        self.kill_iter = kill_iter
        self.rank = rank

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if (runner.iter == self.kill_iter and _first_attempt()
                and (self.rank is None or runner.rank == self.rank)):
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KillDuringSaveHook(Hook):
    """SIGKILLs this process while it writes a checkpoint file.

    When the checkpoint of iteration ``kill_iter`` is written, the file that
    is about to be renamed into place is cut to half its size (as a crash in
    the middle of writing leaves it) and the process dies instead of
    renaming it.
    """

    def __init__(self, kill_iter: int) -> None:
        self.kill_iter = kill_iter

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint['meta']['iter'] != self.kill_iter:
            return
        real_replace = os.replace

        def dying_replace(src, dst, *args, **kwargs):
            if os.path.basename(dst) != 'last_checkpoint':
                os.truncate(src, os.path.getsize(src) // 2)
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst, *args, **kwargs)

        os.replace = dying_replace


def records(log_file: str) -> List[int]:
    """The sample ids logged by ``ToyEngineLoad``, in order of writing."""
    if not os.path.exists(log_file):
        return []
    with open(log_file) as f:
        return [int(line) for line in f if line.strip()]
