"""Streaming splits: decode, filter and compute log-mels on the fly, one rank's shard at a time.

`StreamingSpeechSplit` wraps a `datasets.IterableDataset` that is already in the common schema,
shuffled (training) and split for this rank (`datasets.distributed.split_dataset_by_node`), and
yields the same items as the eager `SpeechSplit`. DataLoader workers split the rank's shards
among themselves (done by `datasets`).

Epochs: Lightning sets the epoch on samplers only, so `EpochDataLoader` calls `set_epoch` on
the dataset each time an epoch's iterator is created: the stream's shard order and shuffle
buffer (seeded with seed + epoch) change every epoch. A fixed training subset keeps its clips
and is reshuffled here with a buffer instead.

Drops are counted during the first pass over the split only (later epochs see the same clips);
with ``data.num_workers > 0`` they are counted inside the worker processes and only logged
there, not added to summary.json.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

from datasets import IterableDataset
from torch.utils.data import DataLoader, get_worker_info
from torch.utils.data import IterableDataset as TorchIterableDataset

from whisper_exp.data.errors import DropCounter
from whisper_exp.data.filters import FilterSettings, filter_reason

log = logging.getLogger(__name__)


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
        # Count drops on the first pass only; later passes re-meet the same clips (faults still raise).
        first = self.passes == 0
        self.passes += 1
        drops = self.drops if first else DropCounter()
        for example in self._examples():
            item = self._item(example, drops)
            if item is not None:
                yield item
        worker = get_worker_info()
        if first and worker is not None:
            drops.log_summary(f"data ({self.name}, worker {worker.id})")


class EpochDataLoader(DataLoader):
    """A DataLoader that tells its dataset which epoch each new iterator serves (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epochs_started = 0

    def __iter__(self) -> Any:
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(self._epochs_started)
        self._epochs_started += 1
        return super().__iter__()
