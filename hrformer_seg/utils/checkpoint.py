"""Safe loading of weight files.

Only ``torch.load(..., weights_only=True)`` is used: tensors, containers and
plain Python values load; a file that needs arbitrary pickled objects is
refused, never retried with the unsafe loader.

Training checkpoints often store a config object next to the weights (the
official HRFormer ones a ``yacs.config.CfgNode``, a dict subclass). Such
classes can be named in ``dict_like_globals``: they are then rebuilt as plain
``OrderedDict`` s, so their data loads and none of their code runs.
"""
import os
import pickle
import re
from collections import OrderedDict
from typing import Any, Mapping, Sequence, Union

import torch
from torch import Tensor

PathLike = Union[str, os.PathLike]


# dict subclasses known to sit next to weights in published checkpoints
DICT_LIKE_GLOBALS = ('yacs.config.CfgNode', )


class CheckpointError(RuntimeError):
    """A weight file is missing, unreadable, corrupt or unsafe to load."""


def load_checkpoint_file(
        path: PathLike,
        map_location: Union[str, torch.device] = 'cpu',
        dict_like_globals: Sequence[str] = DICT_LIKE_GLOBALS) -> Any:
    """Load a ``.pth`` file with ``weights_only=True``.

    Args:
        path: the file.
        map_location: where to put the tensors.
        dict_like_globals: full names of dict subclasses to load as plain
            ``OrderedDict`` s instead of refusing the file.

    Returns:
        Whatever the file holds (usually a dict).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is truncated or corrupt, or contains
            pickled objects the safe loader refuses; the message names it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    stand_ins = [(OrderedDict, name) for name in dict_like_globals]
    try:
        with torch.serialization.safe_globals(stand_ins):
            return torch.load(
                path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if 'weights only' in str(err).lower():
            found = re.search(r'Unsupported global: GLOBAL (\S+)', str(err))
            detail = f' (it needs {found.group(1)})' if found else ''
            raise CheckpointError(
                f'{path} contains pickled Python objects that are not plain '
                f'weights{detail}; refusing to unpickle them (the file is '
                'loaded with weights_only=True). Re-save it with only '
                'tensors, e.g. {"state_dict": model.state_dict()}; if the '
                'global is a dict subclass holding plain data (a config), '
                'name it in dict_like_globals to read it as a dict.') from err
        raise CheckpointError(
            f'{path} is corrupt or not a PyTorch checkpoint: {err}') from err
    except Exception as err:  # torch raises many types for broken files
        raise CheckpointError(
            f'{path} is truncated, corrupt or not a PyTorch checkpoint: '
            f'{type(err).__name__}: {err}') from err


def extract_state_dict(
        checkpoint: Any,
        source: str = 'checkpoint') -> 'OrderedDict[str, Tensor]':
    """Return the weights of a loaded checkpoint.

    Looks under 'state_dict', then 'model', else takes the mapping itself;
    strips a 'module.' prefix (DataParallel/DDP) from every key.

    Args:
        checkpoint: the object :func:`load_checkpoint_file` returned.
        source: name used in error messages (the file name).

    Raises:
        CheckpointError: no mapping of names to tensors found.
    """
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(
            f'{source}: expected a dict of weights, got '
            f'{type(checkpoint).__name__}')
    state_dict = checkpoint
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), Mapping):
            state_dict = checkpoint[key]
            break
    out = OrderedDict()
    for key, value in state_dict.items():
        if not isinstance(value, Tensor):
            raise CheckpointError(
                f'{source}: entry {key!r} is a {type(value).__name__}, not a '
                "tensor; weights are expected at the top level or under "
                "'state_dict' or 'model'")
        if isinstance(key, str) and key.startswith('module.'):
            key = key[len('module.'):]
        out[key] = value
    if not out:
        raise CheckpointError(f'{source}: no weights found')
    return out


def load_state_dict_file(
    path: PathLike,
    map_location: Union[str, torch.device] = 'cpu',
    dict_like_globals: Sequence[str] = DICT_LIKE_GLOBALS
) -> 'OrderedDict[str, Tensor]':
    """Safely load a file and return its weights (see
    :func:`load_checkpoint_file` and :func:`extract_state_dict`)."""
    checkpoint = load_checkpoint_file(path, map_location, dict_like_globals)
    return extract_state_dict(checkpoint, source=os.fspath(path))
