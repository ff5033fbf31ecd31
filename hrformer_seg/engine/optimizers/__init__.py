from .finite_loss_wrapper import FiniteLossOptimWrapper
from .grouped_constructor import (
    GroupedOptimWrapperConstructor,
    merge_param_groups,
)

__all__ = [
    'FiniteLossOptimWrapper', 'GroupedOptimWrapperConstructor',
    'merge_param_groups'
]
