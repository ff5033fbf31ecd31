"""Base class of the segmentors: mode dispatch and result post-processing."""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData

from hrformer_seg.registry import MODELS
from hrformer_seg.structures import SegDataSample

SampleList = List[SegDataSample]
OptSampleList = Optional[SampleList]


class BaseSegmentor(BaseModel, metaclass=ABCMeta):
    """A segmentor on mmengine's :class:`~mmengine.model.BaseModel`.

    ``forward(inputs, data_samples, mode)`` dispatches to :meth:`loss`
    (dict of losses), :meth:`predict` (data samples with ``seg_logits`` and
    ``pred_sem_seg`` at each image's ``ori_shape``) or :meth:`_forward`
    (raw head output). Subclasses set ``align_corners`` and ``num_classes``.

    Args:
        data_preprocessor: a data preprocessor or its config (built from
            this package's MODELS, so ``SegDataPreProcessor`` is found
            without a default scope).
        init_cfg: mmengine init config.
    """

    align_corners: bool = False
    num_classes: int

    def __init__(self,
                 data_preprocessor: Optional[Union[dict,
                                                   torch.nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)

    @property
    def with_neck(self) -> bool:
        return getattr(self, 'neck', None) is not None

    @property
    def with_auxiliary_head(self) -> bool:
        return getattr(self, 'auxiliary_head', None) is not None

    @property
    def with_decode_head(self) -> bool:
        return getattr(self, 'decode_head', None) is not None

    def forward(self,
                inputs: torch.Tensor,
                data_samples: OptSampleList = None,
                mode: str = 'tensor'
                ) -> Union[Dict[str, torch.Tensor], SampleList, torch.Tensor]:
        """Runs the model in one of three modes.

        Args:
            inputs: (N, C, H, W) normalised, padded images.
            data_samples: one :class:`SegDataSample` per image (labels for
                'loss', metainfo for 'predict').
            mode: 'loss', 'predict' or 'tensor'.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f'{type(self).__name__}.forward: mode must be '
                         f'"loss", "predict" or "tensor", got {mode!r}')

    @abstractmethod
    def extract_feat(self, inputs: torch.Tensor) -> Sequence[torch.Tensor]:
        """Backbone (and neck) features of (N, C, H, W) images."""

    @abstractmethod
    def encode_decode(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images -> (N, K, H, W) logits at the input size."""

    @abstractmethod
    def loss(self, inputs: torch.Tensor,
             data_samples: SampleList) -> Dict[str, torch.Tensor]:
        """Losses of a batch against ``data_samples[i].gt_sem_seg``."""

    @abstractmethod
    def predict(self, inputs: torch.Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predictions written into the data samples."""

    @abstractmethod
    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: OptSampleList = None) -> torch.Tensor:
        """Raw decode head output."""

    def postprocess_result(self, seg_logits: torch.Tensor,
                           data_samples: SampleList) -> SampleList:
        """Maps batch logits back onto each original image.

        For image i: remove the padding given by metainfo ``padding_size``
        (left, right, top, bottom), undo the flip given by ``flip`` /
        ``flip_direction``, resize bilinearly (``align_corners`` of the
        head) to ``ori_shape``, and store ``seg_logits`` (K, H, W) and
        ``pred_sem_seg`` (1, H, W, the arg-max) in the data sample.

        Args:
            seg_logits: (N, K, H, W) logits at the batch input size.
            data_samples: one data sample per image.

        Returns:
            The same data samples, updated.
        """
        height, width = seg_logits.shape[2:]
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            left, right, top, bottom = meta.get('padding_size', (0, 0, 0, 0))
            logits = seg_logits[i:i + 1, :, top:height - bottom,
                                left:width - right]
            if meta.get('flip', False):
                logits = logits.flip(_flip_dims(meta.get('flip_direction')))
            ori_shape = tuple(int(s) for s in meta.get(
                'ori_shape', logits.shape[2:])[:2])
            if tuple(logits.shape[2:]) != ori_shape:
                logits = F.interpolate(
                    logits,
                    size=ori_shape,
                    mode='bilinear',
                    align_corners=self.align_corners)
            logits = logits[0]
            sample.seg_logits = PixelData(data=logits)
            sample.pred_sem_seg = PixelData(
                data=logits.argmax(dim=0, keepdim=True))
        return data_samples


def _flip_dims(direction: Optional[str]) -> List[int]:
    """Tensor dims of a (1, K, H, W) map flipped by an mmcv RandomFlip."""
    dims = {'horizontal': [3], 'vertical': [2], 'diagonal': [2, 3]}
    if direction not in dims:
        raise ValueError(f'postprocess_result: metainfo flip_direction must '
                         f'be one of {sorted(dims)}, got {direction!r}')
    return dims[direction]
