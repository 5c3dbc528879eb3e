"""The Lightning DataModule: prepared splits and their loaders.

It knows audio, text and batching; the model side hands it a feature extractor and a
labeller (text → label ids), so the same module serves every model family.
``data.group_by_length=true``: training batches hold items of similar duration
(`batching.LengthGroupedSampler`), which saves padding with dynamically padded batches (CTC).

``data.streaming=false`` (default): splits are prepared eagerly once (`pipeline.build_split`)
and Lightning shards them across ranks with its DistributedSampler. ``data.streaming=true``:
each split is a stream (`pipeline.build_stream`) split by rank here, read and prepared on the
fly; training then needs ``trainer.max_steps`` (a stream has no length to schedule the LR by).

``data.timestamps.probability``: a seeded fraction of the training examples (clips, or packed windows) is
relabelled once with timed segments (`timestamps.add_timestamps`) by the family's `timed_labeller`; prepared
splits only (streamed training data keeps its labels, and says so).

Evaluation sets (``data.validation_sets`` / ``data.test_sets``): one loader per named set, in order
(Lightning's dataloader_idx); `validation_sets` / `test_sets` may be narrowed to the sets that
exist (`check_splits`, used by evaluation-only runs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader
from transformers import WhisperFeatureExtractor

from whisper_exp.config.schema import DataConfig
from whisper_exp.data.batching import LengthGroupedSampler
from whisper_exp.data.errors import DataError, MissingSplitError
from whisper_exp.data.features import FeatureStore, Featurizer, as_featurizer
from whisper_exp.data.packing import PackedSplit
from whisper_exp.data.pipeline import SpeechSplit, SplitTables, build_split, build_stream, evaluation_sets, read_sources
from whisper_exp.data.streaming import EpochDataLoader, StreamingSpeechSplit
from whisper_exp.data.timestamps import TimedLabeller, TimestampStats, add_timestamps

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


class SpeechDataModule(L.LightningDataModule):
    """Builds each split once (lazily) and serves DataLoaders over it."""

    def __init__(
        self,
        data: DataConfig,
        *,
        extractor: WhisperFeatureExtractor | Featurizer,
        labeller: Callable[[str], list[int]],
        collate: Callable,
        max_label_tokens: int,
        cache_dir: str | Path,
        seed: int,
        tables: SplitTables | None = None,
        timed_labeller: TimedLabeller | None = None,
    ) -> None:
        """`tables`: the eager splits' tables when something read one already (its drops are kept);
        `timed_labeller`: the family's labels for timed segments (None: data.timestamps does not apply)."""
        super().__init__()
        self.data = data
        self.extractor = extractor
        self.labeller = labeller
        self.collate = collate
        self.max_label_tokens = max_label_tokens
        self.seed = seed
        self.tables = tables or SplitTables(data)
        self.drops = self.tables.drops
        self.context = self.tables.ctx
        self.store = (FeatureStore(Path(cache_dir) / "features", as_featurizer(extractor).settings,
                                   data.features.dtype) if data.features.cache else None)
        self.splits: dict[str, SpeechSplit] = {}
        self.streams: dict[str, StreamingSpeechSplit] = {}
        self.packed: PackedSplit | None = None
        self.timed_labeller = timed_labeller
        self.timestamp_stats: TimestampStats | None = None
        self.validation_sets = evaluation_sets(data, "validation")
        self.test_sets = evaluation_sets(data, "test")

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def split(self, name: str) -> SpeechSplit:
        """The eagerly prepared split `name`, built on first use."""
        if name not in self.splits:
            self.splits[name] = build_split(
                self.data, name, extractor=self.extractor, labeller=self.labeller,
                max_label_tokens=self.max_label_tokens, store=self.store, seed=self.seed, drops=self.drops,
                ctx=self.context, table=self.tables.read(name))
            prepared = self.splits[name]
            log.info("%s: %d samples, %.1f min of audio", name, len(prepared), prepared.audio_seconds() / 60)
            self.drops.log_summary(f"data ({name})")
        return self.splits[name]

    def stream(self, name: str) -> StreamingSpeechSplit:
        """The streaming split `name` for this process's rank, built on first use."""
        if name not in self.streams:
            rank, world_size = self._rank()
            self.streams[name] = build_stream(
                self.data, name, extractor=self.extractor, labeller=self.labeller,
                max_label_tokens=self.max_label_tokens, seed=self.seed, drops=self.drops, rank=rank,
                world_size=world_size, ctx=self.context)
            log.info("%s: streaming (rank %d of %d)", name, rank, world_size)
        return self.streams[name]

    def setup(self, stage: str | None = None) -> None:
        """Prepare the splits the stage needs (streams are only opened here, read when iterated)."""
        needed = {"fit": ("train", *self.validation_sets), "validate": tuple(self.validation_sets),
                  "test": tuple(self.test_sets)}
        trainer = getattr(self, "trainer", None)
        if self.data.streaming and stage in (None, "fit") and trainer is not None and trainer.max_steps <= 0:
            raise DataError("data.streaming=true: a stream has no length, so set trainer.max_steps=N (and validate "
                            "by steps: trainer.val_check_interval=N trainer.check_val_every_n_epoch=null)")
        for name in needed.get(stage or "fit", ("train", *self.validation_sets, *self.test_sets)):
            self.stream(name) if self.data.streaming else self.split(name)

    def check_splits(self, names: list[str]) -> list[str]:
        """The sets among `names` that the data lacks (eager: the present ones are prepared, once; streaming:
        their sources are opened). Other data faults raise as usual."""
        missing = []
        for name in names:
            try:
                if self.data.streaming:
                    read_sources(self.data, name, self.context)
                else:
                    self.split(name)
            except MissingSplitError as err:
                log.warning("%s", err)
                missing.append(name)
        return missing

    def keep_present_sets(self) -> list[str]:
        """Narrow the validation and test sets to those the data has; returns the missing ones (raises if none
        is left)."""
        missing = self.check_splits([*self.validation_sets, *self.test_sets])
        self.validation_sets = [name for name in self.validation_sets if name not in missing]
        self.test_sets = [name for name in self.test_sets if name not in missing]
        if not self.validation_sets and not self.test_sets:
            raise MissingSplitError(f"data {self.data.name!r} has none of the evaluation sets {missing}: "
                                    "nothing to score")
        return missing

    def train_summary(self) -> dict[str, Any]:
        """Training-set size for summary.json.

        Streaming: the subset size asked for (data.train_samples, clips before filtering) or None,
        and no hours — a stream's size is not known before it has been read.
        """
        if self.data.streaming:
            return {"train_samples": self.data.train_samples, "train_hours": None, "streaming": True}
        train = self.splits.get("train")
        stamps = self.timestamp_stats.as_dict() if self.timestamp_stats is not None else None
        return {"train_samples": len(train) if train is not None else 0,
                "train_hours": train.audio_seconds() / 3600 if train is not None else 0.0, "streaming": False,
                "timestamp_labels": stamps}

    def _dataloader(self, dataset: Any, batch_size: int, **order: Any) -> DataLoader:
        """A DataLoader over prepared items with this module's collate and workers; `order`: shuffle or sampler."""
        return DataLoader(dataset, batch_size=batch_size, collate_fn=self.collate, num_workers=self.data.num_workers,
                          persistent_workers=self.data.num_workers > 0, **order)

    def _loader(self, name: str, batch_size: int, shuffle: bool) -> DataLoader:
        if self.data.streaming:
            # Workers are restarted each epoch so that they see the new epoch (EpochDataLoader).
            return EpochDataLoader(self.stream(name), batch_size=batch_size, collate_fn=self.collate,
                                   num_workers=self.data.num_workers, persistent_workers=False)
        split = self.split(name)
        if not shuffle:
            # Evaluation in order of decreasing duration: a batch's clips (and so their transcripts) are of
            # similar length, so batched generation wastes fewer steps on finished sequences. Scores do
            # not depend on order (predictions are matched by id).
            order = sorted(range(len(split)), key=lambda i: -split.durations[i])
            return self._dataloader(split, batch_size, sampler=order)
        if self.data.group_by_length:
            rank, world_size = self._rank()
            return self._dataloader(split, batch_size, sampler=LengthGroupedSampler(
                split.durations, batch_size, self.seed, num_replicas=world_size, rank=rank,
                group_batches=self.data.length_group_batches))
        return self._dataloader(split, batch_size, shuffle=True, generator=torch.Generator().manual_seed(self.seed))

    def packed_train(self) -> PackedSplit:
        """The training split packed into 30-second windows (data.packing), built once."""
        if self.packed is None:
            self.packed = PackedSplit(self.split("train"), self.labeller, self.data.packing,
                                      max_label_tokens=self.max_label_tokens, seed=self.seed,
                                      frames_per_second=as_featurizer(self.extractor).settings.frames_per_second)
        return self.packed

    def add_train_timestamps(self) -> None:
        """Relabel the seeded fraction of training examples with timed segments (data.timestamps), once."""
        settings = self.data.timestamps
        if self.timed_labeller is None or settings.probability <= 0 or self.timestamp_stats is not None:
            return
        if self.data.streaming:
            log.info("data.timestamps: streamed training data keeps <|notimestamps|> labels (prepared splits only)")
            return
        examples = self.packed_train() if self.data.packing.enabled else self.split("train")
        self.timestamp_stats = add_timestamps(
            examples, self.split("train"), self.timed_labeller, settings, seed=self.seed,
            frames_per_second=as_featurizer(self.extractor).settings.frames_per_second,
            max_label_tokens=self.max_label_tokens)

    def train_dataloader(self) -> DataLoader:
        self.add_train_timestamps()
        if self.data.packing.enabled:
            return self._dataloader(self.packed_train(), self.data.batch_size, shuffle=True,
                                    generator=torch.Generator().manual_seed(self.seed))
        return self._loader("train", self.data.batch_size, shuffle=True)

    def _eval_loaders(self, names: list[str]) -> DataLoader | list[DataLoader]:
        loaders = [self._loader(name, self.data.eval_batch_size, shuffle=False) for name in names]
        return loaders[0] if len(loaders) == 1 else loaders

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        return self._eval_loaders(self.validation_sets)

    def test_dataloader(self) -> DataLoader | list[DataLoader]:
        return self._eval_loaders(self.test_sets)
