"""An infinite sampler that resumes at a position, with per-sample seeds.

mmengine's ``IterBasedTrainLoop`` resumes by drawing and discarding every
batch already trained on, which re-reads (and re-augments) all those images,
and the augmentation after a resume still differs: each data loader worker's
RNGs depend on which samples it happened to process before.

:class:`ResumableInfiniteSampler` instead defines one global stream of
samples: sample ``n`` (counted over all ranks) is entry ``n mod len`` of the
permutation of epoch ``n // len``, and rank ``r`` of ``W`` takes samples
``r, r + W, r + 2W, ...`` from its start offset. Starting at any offset costs
nothing, so a resumed run reads only the images it has not trained on.

Each index it yields is a :class:`SeededIndex`, an ``int`` carrying the seed
of sample ``n``; :class:`SeededDataset` seeds python's ``random``, numpy and
torch with it right before running the wrapped dataset's pipeline, inside the
worker that loads it. Random augmentation then depends only on the sample's
position in the stream, not on the worker, the number of workers or where
the run was resumed.
"""
from typing import Any, Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Dataset, Sampler, get_worker_info

from hrformer_seg.registry import DATA_SAMPLERS
from .random_state import (mix_seed, preserved_rng_state, sample_seed,
                           seed_everything)


class SeededIndex(int):
    """A dataset index that carries the random seed of its sample.

    It is an ``int``, so a dataset that knows nothing of seeds still works
    with it.
    """

    seed: int

    def __new__(cls, index: int, seed: int) -> 'SeededIndex':
        obj = super().__new__(cls, index)
        obj.seed = seed
        return obj

    def __reduce__(self):
        return SeededIndex, (int(self), self.seed)

    def __repr__(self) -> str:
        return f'SeededIndex({int(self)}, seed={self.seed})'


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(Sampler):
    """Infinite sampler for iteration-based training that can start anywhere.

    Args:
        dataset: the dataset (only its length is used).
        shuffle: a new random permutation every epoch, else 0..len-1.
        seed: base seed of the permutations and of the per-sample seeds; the
            runner passes ``randomness.seed``. None: a random seed shared by
            all ranks.
        start: global sample at which iterators start (see
            :meth:`set_start`); None holds them empty until ``set_start`` is
            called, so that a data loader built before a resume reads nothing.
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
        """The next iterator starts at global sample ``start``.

        ``start`` counts samples over all ranks: after ``k`` iterations of
        batch size ``B`` on ``W`` ranks it is ``k * B * W``.
        """
        if start < 0:
            raise ValueError(f'start must be >= 0, got {start}')
        self.start = int(start)

    def _permutation(self, epoch: int) -> np.ndarray:
        cached_epoch, perm = self._epoch_cache
        if cached_epoch != epoch:
            if self.shuffle:
                generator = torch.Generator()
                generator.manual_seed(mix_seed(self.seed, epoch, 1))
                perm = torch.randperm(self.size, generator=generator).numpy()
            else:
                perm = np.arange(self.size)
            self._epoch_cache = (epoch, perm)
        return perm

    def index_at(self, position: int) -> int:
        """Dataset index of global sample ``position``."""
        epoch, offset = divmod(position, self.size)
        return int(self._permutation(epoch)[offset])

    def __iter__(self) -> Iterator[SeededIndex]:
        if self.start is None:
            return
        position = self.start + self.rank
        while True:
            yield SeededIndex(self.index_at(position),
                              sample_seed(self.seed, position))
            position += self.world_size

    def __len__(self) -> int:
        return self.size

    def set_epoch(self, epoch: int) -> None:
        """Unused (``DistSamplerSeedHook`` calls it): the stream is global."""

    def state_dict(self) -> dict:
        return dict(seed=self.seed, shuffle=self.shuffle, size=self.size)

    def load_state_dict(self, state: dict) -> None:
        """Takes the seed of a checkpoint, checking the stream is the same."""
        if state.get('size', self.size) != self.size:
            raise ValueError(
                f'the checkpoint was trained on a dataset of {state["size"]} '
                f'samples, this one has {self.size}')
        self.seed = int(state['seed'])
        self.shuffle = bool(state.get('shuffle', self.shuffle))
        self._epoch_cache = (-1, None)


class SeededDataset(Dataset):
    """Runs ``dataset[i]`` with the RNGs seeded by ``i.seed``.

    Indices without a ``seed`` (plain ints) are passed through unchanged.
    Inside a data loader worker the global RNGs are simply reseeded; in the
    main process (``num_workers=0``) they are restored afterwards, so the
    model's random stream is not disturbed by data loading.

    Every other attribute (``metainfo``, ``pipeline``, ...) is the wrapped
    dataset's.

    Args:
        dataset: the dataset to wrap, e.g. an mmengine ``BaseDataset``.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __getattr__(self, name: str) -> Any:
        # only called for attributes not found on the wrapper itself; no
        # dunders (e.g. a wrapped `__getitems__` would bypass the seeding)
        if name == 'dataset' or name.startswith('__'):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        seed = getattr(index, 'seed', None)
        if seed is None:
            return self.dataset[index]
        if get_worker_info() is None:
            with preserved_rng_state():
                seed_everything(seed)
                return self.dataset[int(index)]
        seed_everything(seed)
        return self.dataset[int(index)]
