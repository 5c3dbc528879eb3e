"""One split, end to end: read sources → filter → (train) nested subset → features → dataset.

Features are computed eagerly, once, before training starts, so a corrupt file is reported
(or skipped and counted) up front rather than mid-epoch, and every later epoch and run reads
the stored log-mels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset, concatenate_datasets
from torch.utils.data import Dataset as TorchDataset
from transformers import WhisperFeatureExtractor

from whisper_exp.config.schema import DataConfig
from whisper_exp.data.audio import AudioError, AudioRef, load_audio
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.features import FeatureStore, compute_features
from whisper_exp.data.filters import FilterSettings, apply_filters
from whisper_exp.data.sources import read_source

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 10.0


@dataclass
class SpeechSplit(TorchDataset):
    """A prepared split: one item per kept clip, features loaded from the store (or memory)."""

    name: str
    ids: list[str]
    texts: list[str]
    sources: list[str]
    durations: list[float]
    labels: list[list[int]]
    feature_paths: list[str] = field(default_factory=list)
    in_memory: list[np.ndarray] = field(default_factory=list)
    store: FeatureStore | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def features(self, index: int) -> np.ndarray:
        """Stored log-mel frames (time-major) of item `index`."""
        if self.store is not None:
            return self.store.load(Path(self.feature_paths[index]))
        return self.in_memory[index]

    def __getitem__(self, index: int) -> dict:
        return {"features": self.features(index), "labels": self.labels[index], "text": self.texts[index],
                "id": self.ids[index], "source": self.sources[index]}

    def audio_seconds(self) -> float:
        """Total audio duration of the split."""
        return float(np.nansum(self.durations))


def nested_subset(n_items: int, n_wanted: int | None, seed: int) -> list[int]:
    """Indices of a deterministic subset: the first `n_wanted` of a seeded permutation.

    For one seed, the subset of size 250 lies inside the one of size 500, and so on, so
    scaling curves compare like with like.
    """
    if n_wanted is None or n_wanted >= n_items:
        if n_wanted is not None and n_wanted > n_items:
            log.warning("data.train_samples=%d but only %d usable training samples: using all", n_wanted, n_items)
        return list(range(n_items))
    order = np.random.default_rng(seed).permutation(n_items)
    return sorted(int(i) for i in order[:n_wanted])


def read_split(data: DataConfig, split: str, drops: DropCounter) -> Dataset:
    """Read and concatenate every source that provides `split`."""
    parts = [read_source(name, source, source.splits[split], data.on_error, drops)
             for name, source in data.sources.items() if split in source.splits]
    if not parts:
        raise DataError(f"no source of data group {data.name!r} provides a {split!r} split")
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


def _prepare_features(
    table: Dataset, rows: list[int], extractor: WhisperFeatureExtractor, store: FeatureStore | None,
    data: DataConfig, drops: DropCounter, split: str,
) -> tuple[list[int], list[str], list[np.ndarray]]:
    """Compute missing features for `rows`; returns rows kept and their feature paths / arrays."""
    kept, paths, arrays = [], [], []
    started = last_report = time.monotonic()
    computed = 0
    for done, row in enumerate(rows, start=1):
        record = table[row]
        ref = AudioRef.from_datasets(record["audio"])
        path = store.path_for(ref) if store is not None else None
        if path is None or not path.exists():
            try:
                audio = load_audio(ref, data.sampling_rate)
            except AudioError as err:
                drops.fault(data.on_error, record["source"], "unreadable audio", f"{record['id']}: {err}")
                continue
            seconds = len(audio) / data.sampling_rate
            if seconds > data.max_duration_s:
                drops.drop(record["source"], f"longer than {data.max_duration_s} s", record["id"])
                continue
            frames = compute_features(extractor, audio)
            computed += 1
            if store is not None and path is not None:
                store.save(path, frames)
            else:
                arrays.append(frames)
        kept.append(row)
        if path is not None:
            paths.append(str(path))
        now = time.monotonic()
        if now - last_report > PROGRESS_EVERY_S:
            log.info("%s: features %d/%d (%.1f clips/s)", split, done, len(rows), computed / (now - started))
            last_report = now
    if computed:
        log.info("%s: computed log-mels for %d clips in %.1f s (%d reused from cache)", split, computed,
                 time.monotonic() - started, len(kept) - computed)
    return kept, paths, arrays


def build_split(
    data: DataConfig,
    split: str,
    *,
    extractor: WhisperFeatureExtractor,
    labeller: Callable[[str], list[int]],
    max_label_tokens: int,
    store: FeatureStore | None,
    seed: int,
    drops: DropCounter,
) -> SpeechSplit:
    """Prepare split `split` ("train", "validation" or "test") for training or evaluation."""
    table = read_split(data, split, drops)
    settings = FilterSettings(data.min_duration_s, data.max_duration_s, max_label_tokens)
    durations = [float("nan") if d is None else float(d) for d in table["duration"]]
    rows, labels = apply_filters(table["text"], durations, table["id"], table["source"], labeller, settings, drops)
    if split == "train" and data.train_samples is not None:
        chosen = nested_subset(len(rows), data.train_samples, seed)
        rows, labels = [rows[i] for i in chosen], [labels[i] for i in chosen]
        log.info("train: nested subset of %d samples (seed %d)", len(rows), seed)
    kept, paths, arrays = _prepare_features(table, rows, extractor, store, data, drops, split)
    label_of = dict(zip(rows, labels, strict=True))
    if not kept:
        raise DataError(f"split {split!r} of data {data.name!r} has no usable samples after filtering "
                        f"(dropped: {drops.as_dict()})")
    texts, ids, sources = table["text"], table["id"], table["source"]
    return SpeechSplit(
        name=split, ids=[ids[r] for r in kept], texts=[texts[r] for r in kept],
        sources=[sources[r] for r in kept], durations=[durations[r] for r in kept],
        labels=[label_of[r] for r in kept], feature_paths=paths, in_memory=arrays, store=store,
    )
