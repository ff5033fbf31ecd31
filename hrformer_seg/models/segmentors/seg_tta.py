"""Test-time augmentation: average of the softmax probabilities over views."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData

from hrformer_seg.registry import MODELS
from hrformer_seg.structures import SegDataSample

# metainfo that describes one augmented view, not the original image
_VIEW_KEYS = ('img_shape', 'pad_shape', 'batch_input_shape', 'padding_size',
              'scale', 'scale_factor', 'keep_ratio', 'flip', 'flip_direction')


@MODELS.register_module()
class SegTTAModel(BaseTTAModel):
    """Merges the views of mmcv's ``TestTimeAug`` (scales x flips).

    The wrapped segmentor's ``test_step`` already maps every view back to
    the original image (padding removed, flip undone, resized to
    ``ori_shape``); the merged ``seg_logits`` is the mean over views of the
    softmax probabilities (K, H, W) and ``pred_sem_seg`` its arg-max.

    :meth:`test_step` runs the views one at a time and adds each view's
    probabilities to a running sum, so memory does not grow with the number
    of views; :meth:`merge_preds` computes the same from all views at once.

    The merged sample keeps the first view's image-level metainfo
    (``img_path``, ``ori_shape``...) and ``gt_sem_seg``; per-view keys
    (``img_shape``, ``flip``, ``scale_factor``...) are dropped and
    ``img_shape`` is set to ``ori_shape``.

    Args:
        module: the segmentor or its config.
        data_preprocessor: overrides the segmentor's data preprocessor.
    """

    def __init__(self,
                 module: Union[dict, nn.Module],
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None
                 ) -> None:
        if isinstance(module, dict):
            module = dict(module)
            if data_preprocessor is not None:
                module['data_preprocessor'] = data_preprocessor
            module = MODELS.build(module)
        elif data_preprocessor is not None:
            raise ValueError('SegTTAModel: data_preprocessor can only be set '
                             'when module is a config')
        super().__init__(module=module)

    def test_step(self, data: Union[dict, Sequence]) -> List[SegDataSample]:
        """Predicts every view and merges them image by image.

        Args:
            data: ``dict(inputs=[view_0, view_1, ...],
                data_samples=[view_0_samples, ...])`` where ``view_j`` is the
                list of the batch's images under augmentation j (the layout
                of ``pseudo_collate`` on ``TestTimeAug`` output), or the
                same as a tuple/list of per-key lists.

        Returns:
            One merged data sample per image.
        """
        sums: Optional[List[torch.Tensor]] = None
        first: Optional[List[SegDataSample]] = None
        num_views = 0
        for view in _split_views(data):
            samples = self.module.test_step(view)
            probs = [sample.seg_logits.data.softmax(dim=0)
                     for sample in samples]
            if sums is None:
                sums, first = probs, samples
            else:
                for total, prob in zip(sums, probs):
                    total += prob
            num_views += 1
        if first is None:
            raise ValueError('SegTTAModel.test_step: no views in the batch')
        return [
            _merged_sample(sample, total / num_views)
            for sample, total in zip(first, sums)
        ]

    def merge_preds(
            self, data_samples_list: List[List[SegDataSample]]
    ) -> List[SegDataSample]:
        """Merges predictions given as one list of views per image.

        Args:
            data_samples_list: ``data_samples_list[i][j]`` is image i under
                view j, already at ``ori_shape``.

        Returns:
            One merged data sample per image.
        """
        merged = []
        for views in data_samples_list:
            probs = torch.stack(
                [view.seg_logits.data.softmax(dim=0) for view in views])
            merged.append(_merged_sample(views[0], probs.mean(dim=0)))
        return merged


def _split_views(data: Union[dict, Sequence]) -> List[Union[dict, list]]:
    """Per-view batches from the TestTimeAug layout (see test_step)."""
    if isinstance(data, dict):
        num_views = len(data['inputs'])
        return [{key: value[j]
                 for key, value in data.items()}
                for j in range(num_views)]
    if isinstance(data, (list, tuple)):
        return [[item[j] for item in data] for j in range(len(data[0]))]
    raise TypeError(f'SegTTAModel: a batch must be a dict, tuple or list, '
                    f'got {type(data).__name__}')


def _merged_sample(view: SegDataSample, probs: torch.Tensor) -> SegDataSample:
    """A new sample with the view's image-level metainfo and ``probs``."""
    meta: Dict = {
        key: value
        for key, value in view.metainfo.items() if key not in _VIEW_KEYS
    }
    meta['img_shape'] = tuple(probs.shape[1:])
    sample = SegDataSample(metainfo=meta)
    sample.seg_logits = PixelData(data=probs)
    sample.pred_sem_seg = PixelData(data=probs.argmax(dim=0, keepdim=True))
    if 'gt_sem_seg' in view:
        sample.gt_sem_seg = view.gt_sem_seg
    return sample
