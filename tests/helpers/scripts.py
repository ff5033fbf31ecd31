"""Scripts of the repository (demo/, tools/) imported by their file path."""
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence, Union


def load_script(path: Union[str, Path], name: Optional[str] = None,
                siblings: Sequence[str] = ()) -> ModuleType:
    """Imports the script at ``path`` as a module (the import path as is).

    Args:
        path: the script's file.
        name: the module's name in ``sys.modules``; the file's stem if None.
        siblings: modules of the script's folder that it imports by their
            bare name (which works when it runs as a script: its folder
            comes first on the import path); loaded first, under those
            names, unless already imported.

    Returns:
        The executed module, registered in ``sys.modules`` under ``name``
        (a second call executes the file again and replaces it).
    """
    path = Path(path)
    for sibling in siblings:
        if sibling not in sys.modules:
            load_script(path.with_name(f'{sibling}.py'), sibling)
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f'cannot import {path}')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
