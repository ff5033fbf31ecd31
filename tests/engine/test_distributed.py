"""Issue 6, bullet 6: 2 CPU processes (gloo) under torchrun; rank 1 is
SIGKILLed at iteration 7 on the first attempt, torchrun restarts the job
(``--max-restarts 1``), it auto-resumes from the last checkpoint and ends
with the weights of an uninterrupted 2-process run.

mmengine 0.10.7 alone cannot start here: its ``init_dist`` calls
``torch.cuda.set_device`` (missing from CPU builds of torch) and it wraps CPU
models in DDP with ``device_ids``; after a torchrun restart the new
processes read the killed processes' gloo addresses from torchrun's shared
store and fail or hang.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.engine_runs import (
    TOY_CONFIG,
    TRAIN_PY,
    changed_entries,
    derived_config,
    final_weights,
    subprocess_env,
)


def torchrun(args, cwd: Path) -> subprocess.Popen:
    """Starts ``torchrun --standalone --nproc_per_node 2 *args``."""
    torchrun_bin = Path(sys.executable).with_name('torchrun')
    launcher = ([str(torchrun_bin)] if torchrun_bin.exists() else
                [sys.executable, '-m', 'torch.distributed.run'])
    return subprocess.Popen(
        [*launcher, '--standalone', '--nproc_per_node', '2', *map(str, args)],
        cwd=cwd, env=subprocess_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout: float = 420) -> str:
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    assert proc.returncode == 0, (
        f'torchrun failed ({proc.returncode}):\n{output[-6000:]}')
    return output


@pytest.mark.slow
def test_torchrun_restart_after_sigkill_resumes_exactly(tmp_path):
    killed = derived_config(
        tmp_path, 'killed',
        "custom_hooks = [dict(type='KillAtIterHook', kill_iter=7, rank=1)]")
    reference, work_dir = tmp_path / 'reference', tmp_path / 'restarted'
    # both jobs at once: the machine waits less for start-ups and restarts
    uninterrupted = torchrun([TRAIN_PY, TOY_CONFIG, '--launcher', 'pytorch',
                              '--work-dir', reference], cwd=tmp_path)
    restarted = torchrun(['--max-restarts', '1', TRAIN_PY, killed,
                          '--launcher', 'pytorch', '--work-dir', work_dir,
                          '--resume'], cwd=tmp_path)
    finish(uninterrupted)
    output = finish(restarted)
    assert 'exitcode: -9' in output  # rank 1 really died ...
    assert f'Resumed from {work_dir / "iter_6.pth"}' in output  # ... came back
    assert changed_entries(final_weights(reference),
                           final_weights(work_dir)) == []
