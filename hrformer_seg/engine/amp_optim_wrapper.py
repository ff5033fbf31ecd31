"""Mixed precision training on a CPU or a GPU, without a loss scaler."""
import contextlib
from typing import Iterator

import torch
import torch.nn as nn

from hrformer_seg.registry import OPTIM_WRAPPERS
from .finite_loss_wrapper import FiniteLossOptimWrapper

_DTYPES = {'bfloat16': torch.bfloat16, 'bf16': torch.bfloat16}


@OPTIM_WRAPPERS.register_module()
class BF16AmpOptimWrapper(FiniteLossOptimWrapper):
    """The forward pass under ``torch.autocast(dtype=bfloat16)`` on the
    model's device; weights, gradients and optimizer state stay float32.

    mmengine's ``AmpOptimWrapper`` refuses CPUs; bfloat16 has float32's
    range, so no loss scaling is needed. The non-finite loss guard of
    :class:`FiniteLossOptimWrapper` applies.
    """

    def __init__(self, *args, dtype: str = 'bfloat16', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if dtype not in _DTYPES:
            raise ValueError(
                f"BF16AmpOptimWrapper: dtype must be 'bfloat16', got "
                f"{dtype!r} (float16 needs loss scaling: AmpOptimWrapper)")
        self.dtype = _DTYPES[dtype]

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else 'cpu'
        with super().optim_context(model), torch.autocast(
                device_type, dtype=self.dtype):
            yield
