"""Errors raised while building from a config name the config file."""
import contextlib
import os.path as osp
import traceback
from typing import Iterator

_BUILD_FILES = (osp.join('mmengine', 'registry', 'build_functions.py'),
                osp.join('mmengine', 'registry', 'registry.py'))


class ConfigBuildError(Exception):
    """A config could not be turned into objects (unknown type, bad key)."""


def _raised_while_building(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(frame.filename.endswith(_BUILD_FILES) for frame in frames)


@contextlib.contextmanager
def config_error_context(config_path: str) -> Iterator[None]:
    """Re-raise config build errors with the config file in the message.

    mmengine's registry already names the class and the offending key
    (``HRFormr is not in the hrformer_seg::model registry``, ``__init__() got
    an unexpected keyword argument 'drop_path_rat'``); this adds which config
    file to fix. Errors raised anywhere else pass through unchanged.
    """
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        if not _raised_while_building(exc):
            raise
        message = exc.args[0] if exc.args else str(exc)
        raise ConfigBuildError(
            f'{message}\n  -> check the config file {config_path} '
            '(and the files it inherits through _base_)') from exc
