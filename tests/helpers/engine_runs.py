"""Running the toy training config, in this process or in a subprocess.

Both ways go through tools/train.py (its ``main()`` in-process), so the tests
exercise the command line users run.
"""
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import List, Sequence

import torch

from .scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
TOY_CONFIG = Path(__file__).resolve().parent / 'toy_config.py'
TRAIN_PY = ROOT / 'tools' / 'train.py'


def subprocess_env() -> dict:
    """This process's environment with the repository root first on
    ``PYTHONPATH`` (the toy config imports ``tests.helpers.toy_engine``)."""
    path = [str(ROOT), os.environ.get('PYTHONPATH', '')]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))


def derived_config(tmp_path: Path, name: str, body: str) -> Path:
    """A config file inheriting the toy config, plus ``body``."""
    path = tmp_path / f'{name}.py'
    path.write_text(f"_base_ = ['{TOY_CONFIG}']\n{body}\n")
    return path


def train_subprocess(args: Sequence, cwd: Path, timeout: float = 300
                     ) -> subprocess.CompletedProcess:
    """``python tools/train.py *args`` (returns the finished process)."""
    return subprocess.run(
        [sys.executable, str(TRAIN_PY), *map(str, args)], cwd=cwd,
        env=subprocess_env(), capture_output=True, text=True,
        timeout=timeout)


def train_in_process(config: Path, work_dir: Path, *args: str,
                     options: Sequence[str] = ()):
    """Runs tools/train.py's ``main()`` here; returns the runner.

    A unique ``experiment_name`` keeps mmengine's global message hub and
    logger of one run from being reused by the next.
    """
    tool = load_script(TRAIN_PY, 'hrformer_seg_train_tool')
    argv = [str(TRAIN_PY), str(config), '--work-dir', str(work_dir), *args,
            '--cfg-options', f'experiment_name={uuid.uuid4().hex[:12]}',
            *options]
    built = []
    real_build = tool.build_runner

    def build_and_keep(*args, **kwargs):
        runner = real_build(*args, **kwargs)
        built.append(runner)
        return runner

    old_argv = sys.argv
    tool.build_runner = build_and_keep
    sys.argv = argv
    try:
        tool.main()
    finally:
        sys.argv = old_argv
    return built[0]


def final_weights(work_dir: Path, name: str = 'iter_12.pth') -> dict:
    return torch.load(work_dir / name, weights_only=True)['state_dict']


def describe(proc: subprocess.CompletedProcess) -> str:
    return (f'exit code {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n'
            f'stderr:\n{proc.stderr[-3000:]}')


def changed_entries(a: dict, b: dict) -> List[str]:
    keys = sorted(set(a) | set(b))
    return [k for k in keys
            if k not in a or k not in b or not torch.equal(a[k], b[k])]
