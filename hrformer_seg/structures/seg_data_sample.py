"""The data sample that carries one image's segmentation annotations and
results."""
from mmengine.structures import BaseDataElement, PixelData


class SegDataSample(BaseDataElement):
    """Annotations and predictions of one image.

    Fields (all :class:`~mmengine.structures.PixelData`):
        gt_sem_seg: ground truth, ``data`` of shape (1, H, W), int64 train IDs.
        pred_sem_seg: predicted train IDs, ``data`` of shape (1, H, W).
        seg_logits: class scores before argmax, ``data`` of shape (C, H, W).

    Meta information (``metainfo``) follows MMSegmentation: ``img_path``,
    ``seg_map_path``, ``ori_shape``, ``img_shape``, ``pad_shape``,
    ``scale_factor``, ``flip``, ``flip_direction``, ``reduce_zero_label``.
    """

    @property
    def gt_sem_seg(self) -> PixelData:
        return self._gt_sem_seg

    @gt_sem_seg.setter
    def gt_sem_seg(self, value: PixelData) -> None:
        self.set_field(value, '_gt_sem_seg', dtype=PixelData)

    @gt_sem_seg.deleter
    def gt_sem_seg(self) -> None:
        del self._gt_sem_seg

    @property
    def pred_sem_seg(self) -> PixelData:
        return self._pred_sem_seg

    @pred_sem_seg.setter
    def pred_sem_seg(self, value: PixelData) -> None:
        self.set_field(value, '_pred_sem_seg', dtype=PixelData)

    @pred_sem_seg.deleter
    def pred_sem_seg(self) -> None:
        del self._pred_sem_seg

    @property
    def seg_logits(self) -> PixelData:
        return self._seg_logits

    @seg_logits.setter
    def seg_logits(self, value: PixelData) -> None:
        self.set_field(value, '_seg_logits', dtype=PixelData)

    @seg_logits.deleter
    def seg_logits(self) -> None:
        del self._seg_logits
