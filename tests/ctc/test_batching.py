"""Length-grouped batching: similar lengths per batch, seeded and reshuffled per epoch, rank-split, resumable."""

from __future__ import annotations

import numpy as np
import pytest

from whisper_exp.data.batching import LengthGroupedSampler

LENGTHS = list(np.random.default_rng(0).uniform(1.0, 20.0, size=203))


def _batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i:i + size] for i in range(0, len(order), size)]


def _spread(batches: list[list[int]]) -> float:
    """Mean (max - min) length within a batch."""
    return float(np.mean([np.ptp([LENGTHS[i] for i in batch]) for batch in batches]))


def test_every_item_once_and_batches_of_similar_length() -> None:
    sampler = LengthGroupedSampler(LENGTHS, batch_size=8, seed=1, group_batches=5)
    order = list(sampler)
    assert sorted(order) == list(range(len(LENGTHS))) and len(sampler) == len(LENGTHS)
    random_order = list(np.random.default_rng(1).permutation(len(LENGTHS)))
    assert _spread(_batches(order, 8)) < 0.25 * _spread(_batches(random_order, 8))
    # The batch with the longest item comes first (memory errors show at once); the short batch stays last.
    assert max(LENGTHS) in [LENGTHS[i] for i in order[:8]]
    assert len(_batches(order, 8)[-1]) == len(LENGTHS) % 8


def test_seeded_and_reshuffled_each_epoch() -> None:
    first = LengthGroupedSampler(LENGTHS, batch_size=8, seed=1)
    again = LengthGroupedSampler(LENGTHS, batch_size=8, seed=1)
    assert list(first) == list(again)
    other_seed = LengthGroupedSampler(LENGTHS, batch_size=8, seed=2)
    assert list(first) != list(other_seed)
    epoch0 = list(first)
    first.set_epoch(1)
    assert list(first) != epoch0 and sorted(first) == sorted(epoch0)


def test_ranks_split_each_global_batch() -> None:
    ranks = [LengthGroupedSampler(LENGTHS, batch_size=4, seed=3, num_replicas=2, rank=r, group_batches=4)
             for r in (0, 1)]
    orders = [list(sampler) for sampler in ranks]
    assert len(orders[0]) == len(orders[1]) == len(ranks[0]) == 102  # 203 padded to 204
    assert set(orders[0]) | set(orders[1]) == set(range(len(LENGTHS)))
    # Step k of both ranks comes from the same length group: together they are as uniform as one batch of 8.
    steps = [b0 + b1 for b0, b1 in zip(_batches(orders[0], 4), _batches(orders[1], 4), strict=True)]
    random_order = list(np.random.default_rng(3).permutation(len(LENGTHS)))
    assert _spread(steps) < 0.3 * _spread(_batches(random_order, 8))


def test_start_at_skips_what_was_trained() -> None:
    sampler = LengthGroupedSampler(LENGTHS, batch_size=8, seed=1)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.start_at(2, 24)
    assert list(sampler) == full[24:]
    assert list(sampler) == full  # only the next iteration skips


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        LengthGroupedSampler(LENGTHS, batch_size=0, seed=0)
    with pytest.raises(ValueError, match="at least one"):
        LengthGroupedSampler([], batch_size=2, seed=0)
