"""Fold BN into convolutions before testing (``test.py --fuse-conv-bn``)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from hrformer_seg.models.utils import fold_batch_norms
from hrformer_seg.registry import HOOKS


@HOOKS.register_module()
class FoldBatchNormHook(Hook):
    """Folds the BN layers into the convolutions once the checkpoint is
    loaded (test time only: a folded model cannot be trained)."""

    priority = 'VERY_LOW'

    def before_test_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        model.eval()
        folded = fold_batch_norms(model)
        runner.logger.info(f'folded {folded} BN layers into convolutions')
