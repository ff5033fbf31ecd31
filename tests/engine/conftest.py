"""Fixtures of the engine tests (the run helpers are in
tests/helpers/engine_runs.py)."""
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.engine_runs import TOY_CONFIG, train_in_process


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Training runs switch on deterministic algorithms and reseed the RNGs;
    other tests of the suite must not inherit that."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    states = (random.getstate(), np.random.get_state(),
              torch.get_rng_state())
    yield
    torch.use_deterministic_algorithms(deterministic)
    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])


@pytest.fixture(scope='session')
def reference_run(tmp_path_factory) -> Path:
    """The toy config trained for 12 iterations without interruption,
    keeping the checkpoints of iterations 9 and 12."""
    work_dir = tmp_path_factory.mktemp('reference')
    train_in_process(TOY_CONFIG, work_dir, options=[
        'default_hooks.checkpoint.max_keep_ckpts=2',
        f'train_dataloader.dataset.pipeline.0.log_file={work_dir}/reads.txt'])
    return work_dir
