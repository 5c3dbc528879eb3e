"""Corpus readers. Each returns one split of one source in the common schema (data.schema).

A reader is registered in READERS under its `kind` and called as
``reader(source_name, source_cfg, source_split, context)``. It returns a `datasets.Dataset`
(local, manifest and IMDA corpora are indexed eagerly: that is where missing files and bad rows
are found), or an `IterableDataset` when the hub reader streams. A `+` in the source's split
name ("train+validation") reads each part and concatenates them, for every kind.

Sample ids are unique within a source's split: predictions are matched to references by id, so a
second row with an id already seen is a fault (``duplicate id``: raised, or dropped and counted
under data.on_error=skip; the first row is kept). Streamed hub tables are not checked up front.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from datasets import Dataset, IterableDataset, concatenate_datasets

from whisper_exp.config.schema import SourceConfig
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.sources.hub import read_hub
from whisper_exp.data.sources.imda_nsc import read_imda_nsc
from whisper_exp.data.sources.kaldi import read_kaldi
from whisper_exp.data.sources.local import read_audiofolder
from whisper_exp.data.sources.manifest import read_manifest


@dataclass
class ReadContext:
    """What every reader needs besides its own config: fault policy, drop counts, streaming."""

    on_error: str = "raise"
    drops: DropCounter = field(default_factory=DropCounter)
    streaming: bool = False
    stream_shards: int = 8
    # data.encoding: the encoding of text files that have no BOM and are not UTF-8 (data.text_encoding).
    encoding: str | None = None
    # Per-data-module memo (e.g. the IMDA index, read once for all three splits).
    memo: dict[Any, Any] = field(default_factory=dict)
    # Per-sample metadata by sample id ({"speaker", "gender", "age", "age_group", …}): what readers know
    # beyond the schema's columns, for evaluation by group (whisper_exp/evaluation.py). Eager tables only.
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)


DUPLICATE_ID = "duplicate id"
def _sentence_case(text: str) -> str:
    stripped = text.strip()
    return stripped[:1].upper() + stripped[1:].lower()


# source.text_case: how transcripts are recased as they are read (every kind, eager or streamed).
TEXT_CASES: dict[str, Callable[[str], str]] = {"keep": lambda text: text, "lower": str.lower,
                                               "sentence": _sentence_case}

SourceReader = Callable[[str, SourceConfig, str, ReadContext], Dataset | IterableDataset]


def _read_local(name: str, cfg: SourceConfig, split: str, ctx: ReadContext) -> Dataset:
    if not cfg.path:
        raise DataError(f"[{name}] no path: set data.sources.{name}.path (or data.path for data=local)")
    return read_audiofolder(name, cfg.path, split, text_column=cfg.text_column, on_error=ctx.on_error,
                            drops=ctx.drops, encoding=ctx.encoding)


def _read_hub(name: str, cfg: SourceConfig, split: str, ctx: ReadContext) -> Dataset | IterableDataset:
    return read_hub(name, cfg, split, streaming=ctx.streaming, stream_shards=ctx.stream_shards)


def _read_manifest(name: str, cfg: SourceConfig, split: str, ctx: ReadContext) -> Dataset:
    return read_manifest(name, cfg, split, on_error=ctx.on_error, drops=ctx.drops, encoding=ctx.encoding)


def _read_imda(name: str, cfg: SourceConfig, split: str, ctx: ReadContext) -> Dataset:
    return read_imda_nsc(name, cfg, split, on_error=ctx.on_error, drops=ctx.drops, memo=ctx.memo,
                         encoding=ctx.encoding)


def _read_kaldi(name: str, cfg: SourceConfig, split: str, ctx: ReadContext) -> Dataset:
    return read_kaldi(name, cfg, split, on_error=ctx.on_error, drops=ctx.drops, memo=ctx.memo, encoding=ctx.encoding,
                      metadata=ctx.metadata)


READERS: dict[str, SourceReader] = {"local": _read_local, "hub": _read_hub, "manifest": _read_manifest,
                                    "imda_nsc": _read_imda, "kaldi": _read_kaldi}


def read_source(name: str, cfg: SourceConfig, split: str, ctx: ReadContext) -> Dataset | IterableDataset:
    """Read split `split` (the source's own split name; `a+b` concatenates) of source `name`."""
    reader = READERS.get(cfg.kind)
    if reader is None:
        raise DataError(f"data.sources.{name}.kind={cfg.kind!r} is unknown; choose one of {sorted(READERS)}")
    parts = [part.strip() for part in split.split("+")]
    if not all(parts):
        raise DataError(f"[{name}] split {split!r} has an empty part; write e.g. 'train+validation'")
    tables = [reader(name, cfg, part, ctx) for part in parts]
    table = tables[0] if len(tables) == 1 else concatenate_datasets(tables)
    if not isinstance(table, Dataset):
        return _recased(table, cfg.text_case)
    table = _recased(table, cfg.text_case)
    table = _without_duplicate_ids(table, name, ctx)
    _record_speakers(table, ctx)
    return table


def _recased(table: Dataset | IterableDataset, text_case: str) -> Dataset | IterableDataset:
    """`table` with its transcripts recased (source.text_case); streamed tables lazily."""
    if text_case == "keep":
        return table
    recase = TEXT_CASES[text_case]
    if isinstance(table, IterableDataset):
        return table.map(lambda row: {"text": recase(row["text"])})
    recased = table.remove_columns("text").add_column("text", [recase(text) for text in table["text"]])
    return recased.select_columns(table.column_names)


def _record_speakers(table: Dataset, ctx: ReadContext) -> None:
    """Every eager table's speakers go to the context's metadata (grouped WER, speaker bootstrap)."""
    for sample_id, speaker in zip(table["id"], table["speaker"], strict=True):
        if speaker:
            ctx.metadata.setdefault(sample_id, {}).setdefault("speaker", speaker)


def _without_duplicate_ids(table: Dataset, source: str, ctx: ReadContext) -> Dataset:
    """`table` keeping the first row of each id; every later one is a fault (raised or counted)."""
    seen: set[str] = set()
    keep: list[int] = []
    for row, sample_id in enumerate(table["id"]):
        if sample_id in seen:
            ctx.drops.fault(ctx.on_error, source, DUPLICATE_ID, f"{sample_id}: a second sample with this id "
                            f"(row {row}); ids must be unique within a split")
            continue
        seen.add(sample_id)
        keep.append(row)
    return table if len(keep) == len(table) else table.select(keep)
