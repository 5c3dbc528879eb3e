"""Streaming splits: decode, filter and compute log-mels on the fly, one rank's shard at a time.

`StreamingSpeechSplit` wraps a `datasets.IterableDataset` that is already in the common schema,
shuffled (training) and split for this rank (`datasets.distributed.split_dataset_by_node`), and
yields the same items as the eager `SpeechSplit`. DataLoader workers split the rank's shards
among themselves (done by `datasets`).

Epochs: Lightning sets the epoch on samplers only, so `EpochDataLoader` calls `set_epoch` on
the dataset each time an epoch's iterator is created: the stream's shard order and shuffle
buffer (seeded with seed + epoch) change every epoch. A fixed training subset keeps its clips
and is reshuffled here with a buffer instead.

Drops are counted during the first pass over the split only (later epochs see the same clips).
With ``data.num_workers > 0`` they are counted inside the worker processes: each worker sends the
drops it counted along with the next item it yields (and a drops-only item at the end of its
shard); `EpochDataLoader`'s collate strips them from the batch and its iterator adds them to the
main process's counter, so summary.json reports the same counts whatever the worker count.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

from datasets import IterableDataset
from torch.utils.data import DataLoader, default_collate, get_worker_info
from torch.utils.data import IterableDataset as TorchIterableDataset

from whisper_exp.data.errors import DropCounter
from whisper_exp.data.filters import FilterSettings, filter_reason

log = logging.getLogger(__name__)

# Key of the drops a worker sends along with an item; an item holding only this key carries no sample.
DROPS_KEY = "_worker_drops"


def buffer_shuffle(items: Iterator[Any], size: int, rng: random.Random) -> Iterator[Any]:
    """Shuffle a stream with a buffer of `size` items (as `datasets` does for shards)."""
    buffer: list[Any] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        index = rng.randrange(size)
        yield buffer[index]
        buffer[index] = item
    rng.shuffle(buffer)
    yield from buffer


class StreamingSpeechSplit(TorchIterableDataset):
    """Items {features, labels, text, id, source} prepared on the fly from a stream."""

    def __init__(self, name: str, stream: IterableDataset, *, prepare: Callable, labeller: Callable[[str], list[int]],
                 settings: FilterSettings, drops: DropCounter, seed: int, reshuffle_buffer: int | None = None,
                 epoch_reshuffles_stream: bool = False) -> None:
        self.name = name
        self.stream = stream
        self.prepare = prepare
        self.labeller = labeller
        self.settings = settings
        self.drops = drops
        self.seed = seed
        self.reshuffle_buffer = reshuffle_buffer
        self.epoch_reshuffles_stream = epoch_reshuffles_stream
        self.epoch = 0
        self.passes = 0

    def set_epoch(self, epoch: int) -> None:
        """Use a new order for the next pass (training streams)."""
        self.epoch = epoch

    def _examples(self) -> Iterator[dict]:
        if self.epoch_reshuffles_stream:
            self.stream.set_epoch(self.epoch)
        examples: Iterator[dict] = iter(self.stream)
        if self.reshuffle_buffer:
            examples = buffer_shuffle(examples, self.reshuffle_buffer, random.Random(self.seed + self.epoch))
        return examples

    def _item(self, example: dict, drops: DropCounter) -> dict | None:
        text, source, sample_id = example["text"] or "", example["source"], example["id"]
        labels = self.labeller(text) if text.strip() else []
        duration = example.get("duration")
        reason = filter_reason(text, float("nan") if duration is None else float(duration), len(labels),
                               self.settings)
        if reason is not None:
            drops.drop(source, reason, sample_id)
            return None
        clip = self.prepare(example["audio"], source, sample_id, drops)
        if clip is None:
            return None
        return {"features": clip.frames, "labels": labels, "text": text, "id": sample_id, "source": source,
                "duration": clip.seconds}

    def __iter__(self) -> Iterator[dict]:
        if get_worker_info() is not None:
            yield from self._worker_items()
            return
        # Count drops on the first pass only; later passes re-meet the same clips (faults still raise).
        first = self.passes == 0
        self.passes += 1
        drops = self.drops if first else DropCounter()
        for example in self._examples():
            item = self._item(example, drops)
            if item is not None:
                yield item

    def _worker_items(self) -> Iterator[dict]:
        """In a DataLoader worker: items carrying the drops counted since the previous one (module doc); the
        main process keeps them for the first pass only."""
        drops = DropCounter()
        for example in self._examples():
            item = self._item(example, drops)
            if item is not None:
                item[DROPS_KEY], drops = drops, DropCounter()
                yield item
        if drops.total():
            yield {DROPS_KEY: drops}


class _WithDrops:
    """A collate function that takes the workers' drops out of the items: (batch or None, drops)."""

    def __init__(self, collate: Callable[[list], Any]) -> None:
        self.collate = collate

    def __call__(self, items: list[dict]) -> tuple[Any, DropCounter]:
        drops = DropCounter()
        for item in items:
            carried = item.pop(DROPS_KEY, None)
            if carried is not None:
                drops.merge(carried)
        samples = [item for item in items if item]
        return (self.collate(samples) if samples else None), drops


class EpochDataLoader(DataLoader):
    """A DataLoader that tells its dataset which epoch each new iterator serves, and brings the drops counted in
    its worker processes back to the dataset's counter (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("num_workers", 0) > 0:
            kwargs["collate_fn"] = _WithDrops(kwargs.get("collate_fn") or default_collate)
        super().__init__(*args, **kwargs)
        self._epochs_started = 0

    def __iter__(self) -> Any:
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(self._epochs_started)
        self._epochs_started += 1
        if not isinstance(self.collate_fn, _WithDrops):
            return super().__iter__()
        return self._batches_keeping_drops(super().__iter__())

    def _batches_keeping_drops(self, batches: Iterator[tuple[Any, DropCounter]]) -> Iterator[Any]:
        dataset = self.dataset
        first = getattr(dataset, "passes", 0) == 0
        if hasattr(dataset, "passes"):
            dataset.passes += 1
        counter = getattr(dataset, "drops", None)
        for batch, drops in batches:
            if first and counter is not None:
                counter.merge(drops)
            if batch is not None:
                yield batch
