"""Checkpoint files written all or nothing and loadable with
``torch.load(weights_only=True)`` (docs/engine.md)."""
import collections
import contextlib
import os
import os.path as osp
import re
import tempfile
from typing import Any, Callable, Iterable, List, Optional, Union

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from hrformer_seg.utils.checkpoint import CheckpointError, load_checkpoint_file

# marks a dict that stands for an object of another type
TYPE_TAG = '__hrformer_seg_type__'
# temporary files of atomic writes: .<final name>.<random>.tmp
_TMP_RE = re.compile(r'^\.(.+\.pth|last_checkpoint)\.[a-z0-9_]+\.tmp$')
_STEP_RE = re.compile(r'(\d+)\.pth$')


class UnencodableValueError(TypeError):
    """A value has a type that a weights-only checkpoint cannot hold."""


def _atomic_write(path: str, write: Callable[[Any], None]) -> None:
    path = osp.abspath(path)
    dirname = osp.dirname(path)
    os.makedirs(dirname, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=dirname)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file 0600: the usual mode
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    # make the rename durable (not on platforms without directory fds)
    with contextlib.suppress(OSError):
        dir_fd = os.open(dirname, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_save(obj: Any, path: str) -> None:
    """``torch.save(obj, path)``, all or nothing: a crash leaves the old file
    or the new one, plus at worst a hidden ``.<name>.*.tmp`` file."""
    _atomic_write(path, lambda f: torch.save(obj, f))


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend writing all or nothing; ``remove``
    waits for :meth:`remove_pending` (called once the new file is complete).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pending_removals: List[str] = []

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        _atomic_write(os.fspath(filepath), lambda f: f.write(obj))

    def put_text(self, obj: str, filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)

    def remove(self, filepath: Union[str, os.PathLike]) -> None:
        self.pending_removals.append(os.fspath(filepath))

    def remove_pending(self, keep: Iterable[Optional[str]] = ()) -> None:
        """Deletes the files marked by ``remove``, except ``keep``."""
        keep = {osp.abspath(path) for path in keep if path}
        for path in self.pending_removals:
            if osp.abspath(path) not in keep and osp.isfile(path):
                os.remove(path)
        self.pending_removals = []


def remove_stale_temp_files(dirname: str) -> List[str]:
    """Removes temporary files left in ``dirname`` by interrupted saves."""
    if not osp.isdir(dirname):
        return []
    removed = [name for name in os.listdir(dirname) if _TMP_RE.match(name)]
    for name in removed:
        os.remove(osp.join(dirname, name))
    return removed


def encode(obj: Any, where: str = 'checkpoint') -> Any:
    """``obj`` as tensors and plain values: numpy values, sets,
    ``HistoryBuffer`` and ``ConfigDict`` become :data:`TYPE_TAG` dicts.

    Raises:
        UnencodableValueError: any other type, naming its key path.
    """
    if obj is None or isinstance(
            obj, (torch.Tensor, torch.dtype, torch.device, torch.Size)):
        return obj
    if isinstance(obj, np.generic):  # first: np.float64 is also a float
        return {TYPE_TAG: 'numpy_scalar', 'dtype': obj.dtype.str,
                'value': obj.item()}
    if isinstance(obj, (bool, int, float, complex, str, bytes)):
        return obj
    if isinstance(obj, np.ndarray) and obj.dtype.kind in 'biuf':
        data = np.ascontiguousarray(obj.astype(obj.dtype.newbyteorder('=')))
        return {TYPE_TAG: 'ndarray', 'dtype': obj.dtype.str,
                'data': torch.from_numpy(data)}
    if isinstance(obj, HistoryBuffer):
        logs, counts = obj.data
        return {TYPE_TAG: 'HistoryBuffer', 'max_length': obj.max_length,
                'logs': encode(logs, where), 'counts': encode(counts, where)}
    if isinstance(obj, ConfigDict):
        return {TYPE_TAG: 'ConfigDict', 'value': encode(dict(obj), where)}
    if type(obj) in (dict, collections.OrderedDict):
        out = type(obj)((k, encode(v, f'{where}.{k}')) for k, v in obj.items())
        if getattr(obj, '_metadata', None) is not None:
            out._metadata = encode(obj._metadata, f'{where}._metadata')
        return out
    if type(obj) in (list, tuple):
        return type(obj)(encode(v, f'{where}[{i}]') for i, v in enumerate(obj))
    if type(obj) is set:
        return {TYPE_TAG: 'set', 'value': [encode(v, where) for v in obj]}
    raise UnencodableValueError(
        f'{where} is a {type(obj).__module__}.{type(obj).__qualname__}, '
        'which a checkpoint loadable with torch.load(weights_only=True) '
        'cannot hold; store it as tensors or plain Python values')


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode`; other values come back unchanged."""
    if type(obj) in (list, tuple):
        return type(obj)(decode(v) for v in obj)
    if not isinstance(obj, dict):
        return obj
    kind = obj.get(TYPE_TAG)
    if kind is None:
        out = type(obj)((k, decode(v)) for k, v in obj.items())
        if getattr(obj, '_metadata', None) is not None:
            out._metadata = decode(obj._metadata)
        return out
    if kind == 'ndarray':
        return obj['data'].numpy().astype(np.dtype(obj['dtype']), copy=False)
    if kind == 'numpy_scalar':
        return np.dtype(obj['dtype']).type(obj['value'])
    if kind == 'HistoryBuffer':
        return HistoryBuffer(decode(obj['logs']), decode(obj['counts']),
                             obj['max_length'])
    if kind == 'ConfigDict':
        return ConfigDict(decode(obj['value']))
    if kind == 'set':
        return set(decode(v) for v in obj['value'])
    raise CheckpointError(f'unknown tagged type {kind!r} in checkpoint')


def load_training_checkpoint(
        filename: str,
        map_location: Union[str, torch.device, Callable, None] = 'cpu'
) -> Any:
    """Loads ``filename`` with ``weights_only=True`` and decodes it;
    CheckpointError for a truncated or corrupt file or one needing pickle."""
    return decode(
        load_checkpoint_file(osp.expanduser(str(filename)), map_location))


def register_safe_local_loader() -> None:
    """Makes :func:`load_training_checkpoint` mmengine's local file loader
    (called by the tools, never on import)."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_training_checkpoint, force=True)


def checkpoints_in(dirname: str, exclude: Optional[str] = None) -> List[str]:
    """The ``*.pth`` files in ``dirname``, newest step number first."""
    found = []
    for name in os.listdir(dirname) if osp.isdir(dirname) else []:
        path = osp.join(dirname, name)
        if (name.endswith('.pth') and not name.startswith('.')
                and osp.isfile(path) and path != exclude):
            match = _STEP_RE.search(name)
            found.append((int(match.group(1)) if match else -1, path))
    return [path for _, path in sorted(found, reverse=True)]


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named by ``work_dir/last_checkpoint`` (else the file
    of that name in ``work_dir``, a moved work dir; an empty record: the
    newest there), None without a record; CheckpointError if not found."""
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        path = f.read().strip()
    if not path:
        return (checkpoints_in(work_dir) or [None])[0]
    for candidate in (path, osp.join(work_dir, osp.basename(path))):
        if osp.isfile(candidate):
            return candidate
    raise CheckpointError(
        f'{record} names {path}, which does not exist; resume from one of '
        f'{checkpoints_in(work_dir) or "(no checkpoints found)"} with '
        '--resume PATH')
