"""Training checkpoint files that survive crashes and load without unpickling.

- :class:`AtomicLocalBackend` (mmengine file backend ``'atomic_local'``) and
  :func:`atomic_save` write to a temporary file in the destination directory,
  flush and fsync it, then ``os.replace`` it over the destination: a reader
  (or a resumed run) sees the old file or the new one, never a partial one.
- :func:`encode` / :func:`decode` turn what mmengine puts into a training
  checkpoint (``HistoryBuffer`` objects in the message hub, numpy arrays and
  scalars, ``ConfigDict``) into tensors and plain Python containers and back,
  so the file loads with ``torch.load(weights_only=True)``.
- :func:`load_training_checkpoint` is the safe load of
  :func:`hrformer_seg.utils.checkpoint.load_checkpoint_file` (errors name the
  file; files that need unpickling classes are refused) followed by
  :func:`decode`. :func:`register_safe_local_loader` makes it mmengine's
  loader of local files (``load_from``, ``resume``, ``Pretrained`` init); the
  tools call it, importing this module does not.
"""
import collections
import os
import os.path as osp
import re
import tempfile
from typing import Any, Callable, List, Optional, Union

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.logging import HistoryBuffer

from mmengine.fileio import LocalBackend, register_backend
from mmengine.runner import CheckpointLoader

from hrformer_seg.utils.checkpoint import CheckpointError, load_checkpoint_file

# marks a dict that stands for an object of another type
TYPE_TAG = '__hrformer_seg_type__'
# temporary files of atomic writes: .<final name>.<random>.tmp
_TMP_RE = re.compile(r'^\.(.+\.pth|last_checkpoint)\.[a-z0-9_]+\.tmp$')


def _default_file_mode() -> int:
    umask = os.umask(0)  # reading the umask means setting it
    os.umask(umask)
    return 0o666 & ~umask


class UnencodableValueError(TypeError):
    """A value has a type that a weights-only checkpoint cannot hold."""


# ---------------------------------------------------------------- writing
def _fsync_dir(dirname: str) -> None:
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
        # mkstemp creates the file private (0600); give it the usual mode
        os.chmod(tmp_path, _default_file_mode())
        os.replace(tmp_path, path)
    except BaseException:
        try:
            os.remove(tmp_path)
        except OSError:
            pass
        raise
    _fsync_dir(dirname)


def atomic_save(obj: Any, path: str) -> None:
    """``torch.save(obj, path)``, all or nothing.

    The bytes go to a temporary file next to ``path`` (same file system, so
    the final rename is atomic), which is flushed and fsynced before it
    replaces ``path``. A crash at any point leaves either the previous
    ``path`` or the complete new one, plus at worst a hidden
    ``.<name>.*.tmp`` file (see :func:`remove_stale_temp_files`).
    """
    _atomic_write(path, lambda f: torch.save(obj, f))


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are all or nothing.

    Select it with ``backend_args=dict(backend='atomic_local')``
    (:class:`~hrformer_seg.engine.hooks.AtomicCheckpointHook` does).
    """

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        _atomic_write(os.fspath(filepath), lambda f: f.write(obj))

    def put_text(self, obj: str, filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


def remove_stale_temp_files(dirname: str) -> List[str]:
    """Removes temporary files left in ``dirname`` by interrupted saves."""
    removed = []
    if not osp.isdir(dirname):
        return removed
    for name in os.listdir(dirname):
        if _TMP_RE.match(name):
            try:
                os.remove(osp.join(dirname, name))
                removed.append(name)
            except OSError:
                pass
    return removed


# ------------------------------------------------- encoding and decoding
def _tagged(kind: str, **fields) -> dict:
    return {TYPE_TAG: kind, **fields}


def encode(obj: Any, where: str = 'checkpoint') -> Any:
    """Returns ``obj`` made of tensors and plain Python values only.

    Handled besides tensors, ``None``, bool, int, float, complex, str, bytes,
    ``torch.Size``/``dtype``/``device``, and dicts, ``OrderedDict``s (with
    their ``_metadata``), lists, tuples and sets of those: numpy arrays and
    scalars, mmengine ``HistoryBuffer`` and ``ConfigDict``. They become dicts
    tagged with :data:`TYPE_TAG` that :func:`decode` turns back.

    Args:
        obj: the object to encode.
        where: the key path of ``obj``, for the error message.

    Raises:
        UnencodableValueError: ``obj`` holds a value of another type; the
            message names its key path.
    """
    if obj is None or isinstance(
            obj, (torch.Tensor, torch.dtype, torch.device, torch.Size)):
        return obj
    # numpy scalars first: np.float64 is also a float
    if isinstance(obj, np.generic):
        return _tagged('numpy_scalar', dtype=obj.dtype.str, value=obj.item())
    if isinstance(obj, (bool, int, float, complex, str, bytes)):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in 'biuf':
            if not obj.dtype.isnative:
                obj = obj.astype(obj.dtype.newbyteorder('='))
            return _tagged('ndarray', dtype=obj.dtype.str,
                           data=torch.from_numpy(np.ascontiguousarray(obj)))
        return _tagged('ndarray_list', dtype=obj.dtype.str,
                       value=encode(obj.tolist(), where))
    if isinstance(obj, HistoryBuffer):
        logs, counts = obj.data
        return _tagged('HistoryBuffer', max_length=obj.max_length,
                       log_history=encode(logs, where),
                       count_history=encode(counts, where))
    if isinstance(obj, ConfigDict):
        return _tagged('ConfigDict', value={
            k: encode(v, f'{where}.{k}') for k, v in obj.items()})
    if isinstance(obj, collections.OrderedDict):
        out = collections.OrderedDict(
            (k, encode(v, f'{where}.{k}')) for k, v in obj.items())
        metadata = getattr(obj, '_metadata', None)
        if metadata is not None:
            out._metadata = encode(metadata, f'{where}._metadata')
        return out
    if type(obj) is dict:
        return {k: encode(v, f'{where}.{k}') for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(
            encode(v, f'{where}[{i}]') for i, v in enumerate(obj))
    if type(obj) in (set, frozenset):
        return _tagged(type(obj).__name__,
                       value=[encode(v, where) for v in obj])
    raise UnencodableValueError(
        f'{where} is a {type(obj).__module__}.{type(obj).__qualname__}, '
        'which a checkpoint loadable with torch.load(weights_only=True) '
        'cannot hold; store it as tensors or plain Python values')


def _decode_ndarray(kind: str, obj: dict) -> np.ndarray:
    if kind == 'ndarray':
        return obj['data'].numpy().astype(np.dtype(obj['dtype']), copy=False)
    return np.array(decode(obj['value']), dtype=np.dtype(obj['dtype']))


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode`; other values come back unchanged."""
    if isinstance(obj, dict):
        kind = obj.get(TYPE_TAG)
        if kind is None:
            out = type(obj)((k, decode(v)) for k, v in obj.items())
            metadata = getattr(obj, '_metadata', None)
            if metadata is not None:
                out._metadata = decode(metadata)
            return out
        if kind in ('ndarray', 'ndarray_list'):
            return _decode_ndarray(kind, obj)
        if kind == 'numpy_scalar':
            return np.dtype(obj['dtype']).type(obj['value'])
        if kind == 'HistoryBuffer':
            return HistoryBuffer(
                decode(obj['log_history']), decode(obj['count_history']),
                obj['max_length'])
        if kind == 'ConfigDict':
            return ConfigDict(decode(obj['value']))
        if kind == 'set':
            return set(decode(v) for v in obj['value'])
        if kind == 'frozenset':
            return frozenset(decode(v) for v in obj['value'])
        raise CheckpointError(f'unknown tagged type {kind!r} in checkpoint')
    if type(obj) in (list, tuple):
        return type(obj)(decode(v) for v in obj)
    return obj


# ---------------------------------------------------------------- loading
def load_training_checkpoint(
        filename: str,
        map_location: Union[str, torch.device, Callable, None] = 'cpu'
) -> Any:
    """Loads a checkpoint with ``weights_only=True`` and :func:`decode` s it.

    Our training checkpoints come back with their numpy arrays and history
    buffers; third party files (plain state dicts) come back unchanged.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        CheckpointError: the file is truncated, corrupt, or needs unpickling;
            the message names it.
    """
    return decode(
        load_checkpoint_file(osp.expanduser(str(filename)), map_location))


def register_safe_local_loader() -> None:
    """Makes :func:`load_training_checkpoint` mmengine's local file loader.

    mmengine's ``load_from``, ``resume``, ``load_checkpoint`` and the
    ``Pretrained`` initialiser read local files through ``CheckpointLoader``;
    this replaces its scheme for local paths (prefix ``''``).
    """
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_training_checkpoint, force=True)


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named by ``work_dir/last_checkpoint``, or None.

    ``last_checkpoint`` holds an absolute path; when the work dir was moved
    and that path no longer exists, the file of the same name inside
    ``work_dir`` is returned instead. An empty ``last_checkpoint`` (a crash
    while it was rewritten) stands for the newest checkpoint in ``work_dir``.

    Raises:
        CheckpointError: ``last_checkpoint`` names a file that exists neither
            there nor in ``work_dir``.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        path = f.read().strip()
    if not path:  # a crash while mmengine rewrote it: take the newest
        found = checkpoints_in(work_dir)
        return found[0] if found else None
    if osp.isfile(path):
        return path
    moved = osp.join(work_dir, osp.basename(path))
    if osp.isfile(moved):
        return moved
    raise CheckpointError(
        f'{record} names {path}, which does not exist; resume from one of '
        f'{checkpoints_in(work_dir) or "(no checkpoints found)"} with '
        '--resume PATH')


_STEP_RE = re.compile(r'(\d+)\.pth$')


def checkpoints_in(dirname: str, exclude: Optional[str] = None) -> List[str]:
    """The ``*.pth`` files in ``dirname``, newest step number first."""
    if not osp.isdir(dirname):
        return []
    found = []
    for name in os.listdir(dirname):
        path = osp.join(dirname, name)
        if (name.endswith('.pth') and not name.startswith('.')
                and osp.isfile(path) and path != exclude):
            match = _STEP_RE.search(name)
            found.append((int(match.group(1)) if match else -1, path))
    return [path for _, path in sorted(found, reverse=True)]
