"""Length-grouped batching: each batch holds items of similar length, the batch order is shuffled.

Padding is wasted compute: with dynamically padded batches (CTC waveforms, or Whisper labels) a
batch costs as much as its longest item. `LengthGroupedSampler` (the idea of transformers'
sampler of that name) permutes the items with a (seed + epoch)-seeded generator, cuts the
permutation into mega-batches of `group_batches` global batches, sorts each mega-batch by length
(longest first) and cuts it into global batches (`batch_size` × ranks); the global batches are
then shuffled, except that the one holding the longest item goes first (an out-of-memory error
shows at once, not hours in) and a final short batch stays last (so every later batch stays
aligned). Each rank takes every world-th item of a global batch, so ranks step on similar lengths.

It is a DistributedSampler (rank / world size / `set_epoch`), so Lightning uses it as it is
under DDP, and it can start part-way into an epoch (`start_at`), which a resumed run needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data.distributed import DistributedSampler

# Mega-batch size in batches when none is given (transformers' LengthGroupedSampler uses 50).
DEFAULT_GROUP_BATCHES = 50


class LengthGroupedSampler(DistributedSampler):
    """Indices of this rank's items for one epoch, in length-grouped batches (see module doc)."""

    def __init__(self, lengths: Sequence[float], batch_size: int, seed: int, *, num_replicas: int = 1,
                 rank: int = 0, group_batches: int = DEFAULT_GROUP_BATCHES) -> None:
        if batch_size < 1 or group_batches < 1:
            raise ValueError("batch_size and group_batches must be >= 1")
        if not lengths:
            raise ValueError("LengthGroupedSampler needs at least one item")
        # DistributedSampler only needs len(dataset): the lengths stand in for it.
        super().__init__(lengths, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,  # type: ignore[arg-type]
                         drop_last=False)
        self.lengths = np.asarray(lengths, dtype=np.float64)
        self.batch_size = batch_size
        self.group_batches = group_batches
        self._skip = 0

    def global_order(self, epoch: int) -> list[int]:
        """All ranks' indices for `epoch`, padded (by repeating) to a multiple of the world size."""
        n = len(self.lengths)
        order = np.random.default_rng([self.seed, epoch]).permutation(n)
        total = math.ceil(n / self.num_replicas) * self.num_replicas
        order = np.concatenate([order, order[: total - n]]) if total > n else order
        step = self.batch_size * self.num_replicas
        mega = step * self.group_batches
        batches: list[np.ndarray] = []
        for start in range(0, total, mega):
            chunk = order[start:start + mega]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + step] for i in range(0, len(chunk), step)]
        tail = [batches.pop()] if len(batches[-1]) < step else []
        shuffle = np.random.default_rng([self.seed, epoch, 1]).permutation(len(batches))
        batches = [batches[i] for i in shuffle]
        if batches:
            longest = max(range(len(batches)), key=lambda i: self.lengths[batches[i]].max())
            batches.insert(0, batches.pop(longest))
        return [int(i) for batch in [*batches, *tail] for i in batch]

    def start_at(self, epoch: int, samples_done: int) -> None:
        """The next iteration is epoch `epoch`, without its first `samples_done` samples (of this rank)."""
        self.set_epoch(epoch)
        self._skip = samples_done

    def __iter__(self) -> Iterator[int]:
        ordered = self.global_order(self.epoch)
        step = self.batch_size * self.num_replicas
        mine: list[int] = []
        for start in range(0, len(ordered), step):
            mine += ordered[start:start + step][self.rank::self.num_replicas]
        skip, self._skip = self._skip, 0
        return iter(mine[skip:])

    def __len__(self) -> int:
        return self.num_samples
