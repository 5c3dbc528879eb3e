"""Data position for resumed runs: the training loader restarts where the checkpoint left it.

Lightning restores weights, optimiser, LR schedule and loop counters, but a plain DataLoader
starts its epoch from the beginning again (and an unseeded reshuffle gives another order). Here
every epoch's order is a permutation seeded by (seed, epoch) — torch's DistributedSampler, also
with one process — and the checkpoint records (epoch, batches done), so a resumed run skips
exactly the samples already trained on and then sees the same batches an uninterrupted run would.
The wrapper keeps the state in the datamodule slot of the checkpoint, which Lightning restores
before it first asks for the training loader.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import lightning as L
from torch.utils.data import DataLoader, IterableDataset, RandomSampler
from torch.utils.data.distributed import DistributedSampler

log = logging.getLogger(__name__)


class ResumableSampler(DistributedSampler):
    """This rank's share of a (seed + epoch)-seeded order, optionally starting part-way into an epoch."""

    def __init__(self, dataset: Any, *, num_replicas: int, rank: int, seed: int, shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=False)
        self._skip = 0

    def start_at(self, epoch: int, samples_done: int) -> None:
        """The next iteration is epoch `epoch`, without its first `samples_done` samples (of this rank)."""
        self.set_epoch(epoch)
        self._skip = samples_done

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        skip, self._skip = self._skip, 0
        return iter(indices[skip:])


class ResumableDataLoader(DataLoader):
    """A DataLoader Lightning recognises as resumable (no "dataloader is not resumable" warning).

    Its position lives in ResumableDataModule's checkpoint state, which Lightning restores before
    the loader is even built (a loader's own state would be loaded too late when the LR schedule
    asks for the number of steps first), so its own state is empty.
    """

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Nothing to restore here (see the class docstring)."""


class ResumableDataModule(L.LightningDataModule):
    """Wraps a datamodule: same loaders, except a training loader that can restart mid-epoch."""

    def __init__(self, inner: L.LightningDataModule, seed: int) -> None:
        super().__init__()
        self.inner = inner
        self.seed = seed
        self.resume_at: dict[str, int] | None = None
        self._positioned = False  # the current training loader is a ResumableDataLoader

    def prepare_data(self) -> None:
        self.inner.prepare_data()

    def setup(self, stage: str) -> None:
        self.inner.trainer = self.trainer  # the inner module may need ranks / max_steps
        self.inner.setup(stage)

    def teardown(self, stage: str) -> None:
        self.inner.teardown(stage)

    def val_dataloader(self) -> Any:
        return self.inner.val_dataloader()

    def test_dataloader(self) -> Any:
        return self.inner.test_dataloader()

    def train_dataloader(self) -> Any:
        loader = self.inner.train_dataloader()
        plain = isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset)
        if not plain or loader.batch_size is None:
            if self.resume_at:
                log.warning("resuming: this training loader (streaming or custom batches) restarts its epoch from the "
                            "beginning; weights, optimiser and LR schedule are restored exactly")
            self._positioned = False
            return loader
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        sampler = loader.sampler  # a sampler that can start mid-epoch itself (length-grouped batches) is kept
        if not callable(getattr(sampler, "start_at", None)):
            sampler = ResumableSampler(loader.dataset, num_replicas=world, rank=rank, seed=self.seed,
                                       shuffle=isinstance(loader.sampler, RandomSampler))
        if self.resume_at:
            epoch, batches = self.resume_at["epoch"], self.resume_at["batches_done"]
            sampler.start_at(epoch, batches * loader.batch_size)
            log.info("resuming the training data at epoch %d after %d batches", epoch, batches)
        resumable = ResumableDataLoader(
            loader.dataset, batch_size=loader.batch_size, sampler=sampler, collate_fn=loader.collate_fn,
            num_workers=loader.num_workers, pin_memory=loader.pin_memory, drop_last=loader.drop_last,
            timeout=loader.timeout, worker_init_fn=loader.worker_init_fn, prefetch_factor=loader.prefetch_factor,
            persistent_workers=loader.persistent_workers)
        self._positioned = True
        return resumable

    def state_dict(self) -> dict[str, int]:
        """Where training stands in its data: {"epoch", "batches_done"} (of the current epoch)."""
        trainer = self.trainer
        if trainer is None or not self._positioned:
            return {}
        epoch = trainer.current_epoch
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if done >= trainer.num_training_batches:  # saved at the end of an epoch (limit_train_batches counted)
            epoch, done = epoch + 1, 0
        return {"epoch": epoch, "batches_done": done}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.resume_at = dict(state_dict) or None
