"""Fold batch norms into the convolutions before them, for inference."""
from mmcv.cnn import fuse_conv_bn
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def _num_batch_norms(model: nn.Module) -> int:
    return sum(isinstance(m, _BatchNorm) for m in model.modules())


def fold_batch_norms(model: nn.Module) -> int:
    """Fold every eval-mode BN that follows a convolution into it, in place.

    In eval mode ``BN(conv(x))`` is an affine map of ``conv(x)`` per channel,
    so the conv's weight and bias can absorb it (mmcv's ``fuse_conv_bn``):
    one pass over the feature map less per BN. In HRFormer + OCR every BN
    directly follows its conv (stem, bottlenecks, FFNs, transitions, fusion,
    heads), so all of them fold; the BN modules become ``nn.Identity``. The
    result is for inference only: the folded model cannot be trained.

    Args:
        model: the model, in eval mode.

    Returns:
        The number of BN layers folded.

    Raises:
        RuntimeError: ``model`` is in training mode (its BNs normalise with
            batch statistics, which no conv can absorb).
    """
    if any(m.training for m in model.modules() if isinstance(m, _BatchNorm)):
        raise RuntimeError('fold_batch_norms needs the model in eval mode '
                           '(call model.eval() first)')
    before = _num_batch_norms(model)
    fuse_conv_bn(model)
    return before - _num_batch_norms(model)
