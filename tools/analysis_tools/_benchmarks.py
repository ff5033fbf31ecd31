"""The repository's ``benchmarks`` package, for the tools in this folder.

``benchmarks/`` is a package of the checkout, not installed (its measuring
code also runs in the peer's environment, where hrformer_seg is not). The
tools import it from the checkout they belong to, found from this file's
location, without changing ``sys.path``.
"""
import importlib
import importlib.machinery
import importlib.util
import os.path as osp
import sys
from types import ModuleType

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACKAGE = osp.join(ROOT, 'benchmarks')


def import_benchmarks(name: str) -> ModuleType:
    """``benchmarks.<name>`` of this checkout.

    Args:
        name: module of the package, e.g. 'harness' or 'flops'.

    Returns:
        The module.

    Raises:
        ImportError: another ``benchmarks`` package was imported first.
    """
    package = sys.modules.get('benchmarks')
    if package is None:
        spec = importlib.machinery.PathFinder.find_spec('benchmarks', [ROOT])
        if spec is None or spec.loader is None:
            raise ImportError(f'no benchmarks package in {ROOT}')
        package = importlib.util.module_from_spec(spec)
        sys.modules['benchmarks'] = package
        spec.loader.exec_module(package)
    paths = [osp.abspath(p) for p in getattr(package, '__path__', [])]
    if PACKAGE not in paths:
        raise ImportError(f'the benchmarks package imported comes from '
                          f'{paths}, not from {PACKAGE}')
    return importlib.import_module(f'benchmarks.{name}')
