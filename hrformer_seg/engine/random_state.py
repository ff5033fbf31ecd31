"""Saving, restoring and seeding python's, numpy's and torch's RNGs."""
import contextlib
import random
from typing import Iterator

import numpy as np
import torch


def get_rng_state() -> dict:
    """States of python's ``random``, numpy's and torch's global RNGs."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restores states returned by :func:`get_rng_state`."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@contextlib.contextmanager
def preserved_rng_state() -> Iterator[None]:
    """Whatever the body draws, the global RNGs end as they started."""
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def seed_everything(seed: int) -> None:
    """Seeds python's ``random``, numpy's and torch's global RNGs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def mix_seed(*values: int) -> int:
    """A 32-bit seed hashed from all ``values`` (unrelated for n, n + 1)."""
    entropy = [int(v) % (1 << 64) for v in values]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])

