"""One global sample stream that starts anywhere, each sample's
augmentation seeded by its position in it (docs/engine.md).

Sample ``n`` (over all ranks) is entry ``n mod len`` of the permutation of
epoch ``n // len``; rank ``r`` of ``W`` takes samples ``r, r + W, ...``.
"""
import contextlib
from typing import Any, Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Dataset, Sampler, get_worker_info

from hrformer_seg.registry import DATA_SAMPLERS
from .random_state import mix_seed, preserved_rng_state, seed_everything


class SeededIndex(int):
    """A dataset index (an ``int``) that carries its sample's seed."""

    seed: int

    def __new__(cls, index: int, seed: int) -> 'SeededIndex':
        obj = super().__new__(cls, index)
        obj.seed = seed
        return obj

    def __reduce__(self):  # for the data loader's workers
        return SeededIndex, (int(self), self.seed)


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(Sampler):
    """Infinite sampler yielding :class:`SeededIndex` es from ``start``.

    Args:
        dataset: only its length is used.
        shuffle: a new permutation every epoch, else 0..len-1.
        seed: of the permutations and samples; None: random, shared by ranks.
        start: first global sample; None: iterators are empty until
            :meth:`set_start` (a data loader built before a resume).
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 start: Optional[int] = 0) -> None:
        self.rank, self.world_size = get_dist_info()
        self.size = len(dataset)
        if self.size == 0:
            raise ValueError('ResumableInfiniteSampler got an empty dataset')
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.start = start
        self._epoch_cache = (-1, None)

    def set_start(self, start: int) -> None:
        """The next iterator starts at global sample ``start``."""
        if start < 0:
            raise ValueError(f'start must be >= 0, got {start}')
        self.start = int(start)

    def index_at(self, position: int) -> int:
        """Dataset index of global sample ``position``."""
        epoch, offset = divmod(position, self.size)
        if self._epoch_cache[0] != epoch:
            perm = np.arange(self.size)
            if self.shuffle:
                generator = torch.Generator()
                generator.manual_seed(mix_seed(self.seed, epoch, 1))
                perm = torch.randperm(self.size, generator=generator).numpy()
            self._epoch_cache = (epoch, perm)
        return int(self._epoch_cache[1][offset])

    def __iter__(self) -> Iterator[SeededIndex]:
        if self.start is None:
            return
        position = self.start + self.rank
        while True:
            yield SeededIndex(self.index_at(position),
                              mix_seed(self.seed, position))
            position += self.world_size

    def __len__(self) -> int:
        return self.size

    def set_epoch(self, epoch: int) -> None:
        """Unused (``DistSamplerSeedHook`` calls it): the stream is global."""

    def state_dict(self) -> dict:
        return dict(seed=self.seed, shuffle=self.shuffle, size=self.size)

    def load_state_dict(self, state: dict) -> None:
        """Takes a checkpoint's seed, checking the dataset size."""
        if state.get('size', self.size) != self.size:
            raise ValueError(
                f'the checkpoint was trained on a dataset of {state["size"]} '
                f'samples, this one has {self.size}')
        self.seed = int(state['seed'])
        self.shuffle = bool(state.get('shuffle', self.shuffle))
        self._epoch_cache = (-1, None)


class SeededDataset(Dataset):
    """Runs ``dataset[i]`` with the RNGs seeded by ``i.seed`` (restored
    after it in the main process); other attributes are the dataset's."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __getattr__(self, name: str) -> Any:
        # no dunders: a wrapped `__getitems__` would bypass the seeding
        if name == 'dataset' or name.startswith('__'):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        seed = getattr(index, 'seed', None)
        if seed is None:
            return self.dataset[index]
        # in the main process the model's random stream must not move
        with (preserved_rng_state() if get_worker_info() is None
              else contextlib.nullcontext()):
            seed_everything(seed)
            return self.dataset[int(index)]
