"""One split, end to end: read sources → harmonise → mix → filter → subset → features.

Two paths, chosen by ``data.streaming``:

* **eager** (`build_split`, default): the split's index is read up front, cheap filters run on
  it (empty text, known duration, label length), a deterministic subset is taken, then log-mels
  are computed once per clip and kept in the FeatureStore (reused by later epochs and runs). A
  corrupt file is reported (or skipped and counted) before training starts.
* **streaming** (`build_stream` → `streaming.StreamingSpeechSplit`): nothing is read up front;
  each rank reads its own shard, decodes, filters and computes features on the fly.

Subsets (``data.train_samples=N``) are nested for a fixed seed: eagerly, the first N usable
clips of a seeded permutation (so 250 ⊂ 500 ⊂ 1000); streaming, the first N clips of a seeded
buffer shuffle of the stream — also nested, but not the same clips as the eager subset.
``data.validation_samples`` / ``data.test_samples`` cap each evaluation source the same way.

Evaluation sets: ``data.validation_sets`` / ``data.test_sets`` name several sets (each a key of the
sources' ``splits``), each prepared and scored on its own; by default one set, "validation" / "test".
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset, IterableDataset
from datasets.distributed import split_dataset_by_node
from torch.utils.data import Dataset as TorchDataset
from transformers import WhisperFeatureExtractor

from whisper_exp.config.schema import DataConfig
from whisper_exp.data.audio import UNREADABLE, AudioError, AudioRef, audio_duration, load_audio
from whisper_exp.data.errors import DataError, DropCounter, MissingSplitError
from whisper_exp.data.features import FeatureStore, Featurizer, as_featurizer
from whisper_exp.data.filters import FilterSettings, duration_reason, filter_reason
from whisper_exp.data.mixing import combine
from whisper_exp.data.sources import ReadContext, read_source
from whisper_exp.data.streaming import StreamingSpeechSplit
from whisper_exp.data.timestamps import Placement

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 10.0
EVAL_KINDS = ("validation", "test")
EVAL_CAPS = {"validation": "validation_samples", "test": "test_samples"}


def evaluation_sets(data: DataConfig, kind: str) -> list[str]:
    """The named sets of evaluation split `kind` ("validation" or "test"), primary first."""
    names = data.validation_sets if kind == "validation" else data.test_sets
    return [str(name) for name in names] if names else [kind]


def split_kind(data: DataConfig, split: str) -> str:
    """"train", or the evaluation kind ("validation" / "test") that set `split` belongs to."""
    for kind in EVAL_KINDS:
        if split in evaluation_sets(data, kind):
            return kind
    return split


def _eval_cap(data: DataConfig, split: str) -> int | None:
    kind = split_kind(data, split)
    return getattr(data, EVAL_CAPS[kind]) if kind in EVAL_CAPS else None


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

    def frame_count(self, index: int) -> int:
        """Number of stored frames of item `index` (the stored array's header only, no data read)."""
        if self.store is not None:
            return self.store.frame_count(Path(self.feature_paths[index]))
        return len(self.in_memory[index])

    def __getitem__(self, index: int) -> dict:
        return {"features": self.features(index), "labels": self.labels[index], "text": self.texts[index],
                "id": self.ids[index], "source": self.sources[index], "duration": self.durations[index]}

    def audio_seconds(self) -> float:
        """Total audio duration of the split."""
        return float(np.nansum(self.durations))

    def layout(self, index: int) -> list[Placement]:
        """Item `index` is its own utterance, from its first frame (data.timestamps)."""
        return [Placement(index, 0)]

    def set_labels(self, index: int, labels: list[int]) -> None:
        """Replace the label ids of item `index` (data.timestamps)."""
        self.labels[index] = labels


@dataclass(frozen=True)
class PreparedClip:
    """Log-mels of one clip: in memory (`frames`) or in the store (`path`), and its duration."""

    frames: np.ndarray | None
    path: Path | None
    seconds: float
    computed: bool


@dataclass
class ClipPreparer:
    """Decode → duration bounds → features (log-mels, waveform) for one clip; faults and drops go to a DropCounter."""

    data: DataConfig
    # The model's features: a Featurizer, or a WhisperFeatureExtractor (log-mels).
    extractor: WhisperFeatureExtractor | Featurizer
    store: FeatureStore | None = None

    def __post_init__(self) -> None:
        self.featurize = as_featurizer(self.extractor)

    def duration_reason(self, seconds: float) -> str | None:
        """Why a decoded clip of `seconds` must be dropped, or None (filters.duration_reason)."""
        return duration_reason(seconds, FilterSettings(self.data.min_duration_s, self.data.max_duration_s, 0))

    def __call__(self, audio: dict, source: str, sample_id: str, drops: DropCounter,
                 known_seconds: float | None = None) -> PreparedClip | None:
        """The clip's features, or None when it is dropped (counted in `drops`).

        Frames already in the store are not recomputed; the duration bounds still apply to them
        (from `known_seconds`, or the audio header when the source did not know the duration).
        """
        ref = AudioRef.from_datasets(audio)
        try:
            path = self.store.path_for(ref) if self.store is not None else None
            cached = path is not None and path.exists()
            if cached and (known_seconds is None or math.isnan(known_seconds)):
                known_seconds = audio_duration(ref)
        except (OSError, AudioError) as err:
            reason = err.reason if isinstance(err, AudioError) else UNREADABLE
            drops.fault(self.data.on_error, source, reason, f"{sample_id}: {ref.label}: {err}")
            return None
        if cached:
            assert known_seconds is not None
            reason = self.duration_reason(known_seconds)
            if reason is not None:
                drops.drop(source, reason, sample_id)
                return None
            return PreparedClip(None, path, known_seconds, computed=False)
        try:
            samples = load_audio(ref, self.data.sampling_rate)
        except AudioError as err:
            drops.fault(self.data.on_error, source, err.reason, f"{sample_id}: {err}")
            return None
        seconds = len(samples) / self.data.sampling_rate
        reason = self.duration_reason(seconds)
        if reason is not None:
            drops.drop(source, reason, sample_id)
            return None
        frames = self.featurize(samples)
        if self.store is not None and path is not None:
            self.store.save(path, frames)
            return PreparedClip(None, path, seconds, computed=True)
        return PreparedClip(frames, None, seconds, computed=True)


def read_sources(data: DataConfig, split: str, ctx: ReadContext) -> dict[str, Dataset | IterableDataset]:
    """Each source's table for `split` (sources without that split are left out)."""
    tables = {name: read_source(name, source, source.splits[split], ctx)
              for name, source in data.sources.items() if split in source.splits}
    if not tables:
        present = sorted({name for source in data.sources.values() for name in source.splits})
        raise MissingSplitError(f"no source of data group {data.name!r} provides a {split!r} split (splits named "
                                f"by its sources: {present}); add it to a source's splits "
                                f"(data.sources.<name>.splits.{split}=<the source's split>)")
    return tables


def read_split(data: DataConfig, split: str, drops: DropCounter, ctx: ReadContext | None = None) -> Dataset:
    """The eager (non-streaming) table of `split`, all sources mixed."""
    ctx = ctx or ReadContext(on_error=data.on_error, drops=drops, streaming=False, stream_shards=data.stream_shards,
                             encoding=data.encoding)
    table = combine(read_sources(data, split, ctx), split, data.mix)
    assert isinstance(table, Dataset)
    return table


class SplitTables:
    """Each split's eager table, read once: shared by a family that needs the training transcripts before its
    model exists (a CTC vocabulary) and the data module that prepares the split, so that the split is read
    once and its drop counts are kept."""

    def __init__(self, data: DataConfig, drops: DropCounter | None = None) -> None:
        self.data = data
        self.drops = drops if drops is not None else DropCounter()
        self.ctx = ReadContext(on_error=data.on_error, drops=self.drops, streaming=data.streaming,
                               stream_shards=data.stream_shards, encoding=data.encoding)
        self.tables: dict[str, Dataset] = {}

    def read(self, split: str) -> Dataset:
        """The table of `split` (read_split), read on first use."""
        if split not in self.tables:
            self.tables[split] = read_split(self.data, split, self.drops, self.ctx)
        return self.tables[split]


@dataclass
class _Walk:
    """Rows to consider in order, and how many usable ones to keep (None: all)."""

    order: list[int]
    wanted: int | None


def _walks(sources: list[str], data: DataConfig, split: str, seed: int) -> list[_Walk]:
    """The training subset walks one seeded permutation of all rows; capped evaluation splits walk
    one seeded permutation per source; otherwise every row is taken in table order."""
    rows = list(range(len(sources)))
    if split == "train" and data.train_samples is not None:
        return [_Walk([int(i) for i in np.random.default_rng(seed).permutation(len(rows))], data.train_samples)]
    cap = _eval_cap(data, split)
    if cap is None:
        return [_Walk(rows, None)]
    by_source: dict[str, list[int]] = {}
    for row in rows:
        by_source.setdefault(sources[row], []).append(row)
    return [_Walk([group[int(i)] for i in np.random.default_rng(seed).permutation(len(group))], cap)
            for group in by_source.values()]


@dataclass
class _Kept:
    """What the eager path keeps of one row."""

    labels: list[int]
    clip: PreparedClip


def _take(table: Dataset, walk: _Walk, labeller: Callable[[str], list[int]], settings: FilterSettings,
          prepare: ClipPreparer, drops: DropCounter, split: str) -> dict[int, _Kept]:
    """Filter, decode and featurise rows in walk order until `walk.wanted` are kept."""
    texts, ids, sources, durations = table["text"], table["id"], table["source"], table["duration"]
    kept: dict[int, _Kept] = {}
    started = last_report = time.monotonic()
    computed = 0
    kept_ids: set[str] = set()
    for done, row in enumerate(walk.order, start=1):
        if walk.wanted is not None and len(kept) >= walk.wanted:
            break
        if walk.wanted is not None and ids[row] in kept_ids:
            continue  # a subset counts distinct clips (interleaving may oversample a source)
        text = texts[row] or ""
        known = float("nan") if durations[row] is None else float(durations[row])
        labels = labeller(text) if text.strip() else []
        reason = filter_reason(text, known, len(labels), settings)
        if reason is not None:
            drops.drop(sources[row], reason, ids[row])
            continue
        clip = prepare(table[row]["audio"], sources[row], ids[row], drops, known)
        if clip is None:
            continue
        computed += clip.computed
        kept[row] = _Kept(labels, clip)
        kept_ids.add(ids[row])
        now = time.monotonic()
        if now - last_report > PROGRESS_EVERY_S:
            log.info("%s: features %d/%d (%.1f clips/s)", split, done, len(walk.order), computed / (now - started))
            last_report = now
    if walk.wanted is not None and len(kept) < walk.wanted:
        log.warning("%s: asked for %d samples but only %d are usable: using all", split, walk.wanted, len(kept))
    if computed:
        log.info("%s: computed log-mels for %d clips in %.1f s (%d reused from cache)", split, computed,
                 time.monotonic() - started, len(kept) - computed)
    return kept


def build_split(
    data: DataConfig,
    split: str,
    *,
    extractor: WhisperFeatureExtractor | Featurizer,
    labeller: Callable[[str], list[int]],
    max_label_tokens: int,
    store: FeatureStore | None,
    seed: int,
    drops: DropCounter,
    ctx: ReadContext | None = None,
    table: Dataset | None = None,
) -> SpeechSplit:
    """Prepare split `split` ("train", "validation" or "test") eagerly (see module doc).

    Rows are considered lazily: a subset of N only filters, decodes and featurises until N
    usable clips are found, however large the corpus. `table`: the split already read (SplitTables).
    """
    table = read_split(data, split, drops, ctx) if table is None else table
    settings = FilterSettings(data.min_duration_s, data.max_duration_s, max_label_tokens)
    prepare = ClipPreparer(data, extractor, store)
    kept: dict[int, _Kept] = {}
    for walk in _walks(table["source"], data, split, seed):
        kept.update(_take(table, walk, labeller, settings, prepare, drops, split))
    if split == "train" and data.train_samples is not None:
        log.info("train: nested subset of %d samples (first usable ones of a permutation seeded %d)", len(kept), seed)
    if not kept:
        raise DataError(f"split {split!r} of data {data.name!r} has no usable samples after filtering "
                        f"(dropped: {drops.as_dict()})")
    rows = sorted(kept)
    texts, ids, sources = table["text"], table["id"], table["source"]
    return SpeechSplit(
        name=split, ids=[ids[r] for r in rows], texts=[texts[r] for r in rows],
        sources=[sources[r] for r in rows], durations=[kept[r].clip.seconds for r in rows],
        labels=[kept[r].labels for r in rows],
        feature_paths=[str(kept[r].clip.path) for r in rows if kept[r].clip.path is not None],
        in_memory=[kept[r].clip.frames for r in rows if kept[r].clip.frames is not None],
        store=store,
    )


def _as_stream(table: Dataset | IterableDataset, shards: int) -> IterableDataset:
    if isinstance(table, IterableDataset):
        return table
    return table.to_iterable_dataset(num_shards=max(1, min(shards, len(table))))


def build_stream(
    data: DataConfig,
    split: str,
    *,
    extractor: WhisperFeatureExtractor | Featurizer,
    labeller: Callable[[str], list[int]],
    max_label_tokens: int,
    seed: int,
    drops: DropCounter,
    rank: int = 0,
    world_size: int = 1,
    ctx: ReadContext | None = None,
) -> StreamingSpeechSplit:
    """Prepare split `split` for streaming on rank `rank` of `world_size` (see module doc)."""
    ctx = ctx or ReadContext(on_error=data.on_error, drops=drops, streaming=True, stream_shards=data.stream_shards,
                             encoding=data.encoding)
    tables = {name: _as_stream(table, data.stream_shards) for name, table in read_sources(data, split, ctx).items()}
    cap = _eval_cap(data, split)
    if cap is not None:
        tables = {name: table.shuffle(seed=seed, buffer_size=data.shuffle_buffer).take(cap)
                  for name, table in tables.items()}
    stream = combine(tables, split, data.mix)
    assert isinstance(stream, IterableDataset)
    reshuffle = None
    if split == "train":
        stream = stream.shuffle(seed=seed, buffer_size=data.shuffle_buffer)
        if data.train_samples is not None:
            # A fixed subset: its order is reshuffled per epoch by the wrapper, never its content.
            stream = stream.take(data.train_samples)
            reshuffle = min(data.shuffle_buffer, data.train_samples)
            log.warning("streaming: the training subset is the first %d clips of a seeded buffer shuffle "
                        "(seed %d, buffer %d): nested for a fixed seed, but not the same clips as with "
                        "data.streaming=false", data.train_samples, seed, data.shuffle_buffer)
    # A `take` must be split by examples: split by shards, each shard would take its own first N.
    taken = cap is not None or (split == "train" and data.train_samples is not None)
    stream = split_dataset_by_node(stream, rank=rank, world_size=world_size,
                                   strategy="examples" if taken and world_size > 1 else "auto")
    return StreamingSpeechSplit(
        name=split, stream=stream, prepare=ClipPreparer(data, extractor, None), labeller=labeller,
        settings=FilterSettings(data.min_duration_s, data.max_duration_s, max_label_tokens), drops=drops,
        seed=seed, reshuffle_buffer=reshuffle, epoch_reshuffles_stream=split == "train" and reshuffle is None,
    )


