"""Manifests: CSV, TSV or JSONL files listing audio paths and transcripts.

* ``path`` is a folder and each split names a manifest file in it
  (``splits: {train: train.jsonl, validation: dev.jsonl, test: test.jsonl}``), or ``path`` is
  one manifest file with a ``split`` column whose values the splits name.
* The format follows the extension: ``.csv`` (comma, RFC 4180 quoting), ``.tsv``/``.txt`` (tab,
  no quoting, as Common Voice releases write them), ``.jsonl``/``.json`` (one object per line,
  NeMo style).
* Columns: ``audio_column`` (path), ``text_column``, optional ``duration_column`` (seconds;
  read from the audio header otherwise), ``speaker_column``, ``id_column``.
* Relative audio paths are resolved against ``audio_dir`` when set (itself relative to the
  manifest's folder: Common Voice keeps clips in ``clips/``), else the manifest's folder.

A missing column fails at once listing the columns; a row that cannot be parsed, a missing or
unreadable audio file raises a DataError naming manifest file and line, or is skipped and
counted with ``data.on_error=skip``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datasets import Dataset

from whisper_exp.config.schema import SourceConfig
from whisper_exp.data.audio import AudioError, AudioRef, audio_duration
from whisper_exp.data.errors import DataError, DropCounter, MissingSplitError
from whisper_exp.data.harmonise import check_columns
from whisper_exp.data.schema import dataset_from_records, empty_records
from whisper_exp.data.text_encoding import read_text

SPLIT_COLUMN = "split"
DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
JSON_LINES = (".jsonl", ".json")


class RowError(ValueError):
    """One manifest row that cannot be parsed."""


def _rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line number, row or the error that row raised) for every data row of manifest `path` (its `text`)."""
    suffix = path.suffix.lower()
    if suffix in JSON_LINES:
        with io.StringIO(text) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    yield number, RowError(f"not valid JSON ({err})")
                    continue
                yield number, row if isinstance(row, dict) else RowError("not a JSON object")
        return
    if suffix not in DELIMITED:
        raise DataError(f"{path}: unknown manifest format {suffix!r}; use .csv, .tsv or .jsonl")
    delimiter = DELIMITED[suffix]
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    with io.StringIO(text, newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter, quoting=quoting)
        for row in reader:
            number = reader.line_num
            if None in row or any(value is None for value in row.values()):
                yield number, RowError(f"expected {len(reader.fieldnames or [])} fields "
                                       f"({', '.join(reader.fieldnames or [])})")
                continue
            yield number, row


def _header(path: Path, text: str) -> list[str] | None:
    """Column names of a delimited manifest (None for JSONL, whose rows carry their keys)."""
    if path.suffix.lower() in JSON_LINES:
        return None
    with io.StringIO(text, newline="") as handle:
        first = handle.readline().rstrip("\r\n")
    return first.split(DELIMITED[path.suffix.lower()]) if first else []


def _manifest_for(source: str, cfg: SourceConfig, split: str) -> tuple[Path, str | None]:
    """(manifest file, split value to select in its split column or None)."""
    assert cfg.path is not None
    root = Path(cfg.path).expanduser()
    if root.is_dir():
        manifest = root / split
        if not manifest.is_file():
            present = sorted(p.name for p in root.iterdir() if p.suffix.lower() in (*DELIMITED, *JSON_LINES))
            raise MissingSplitError(f"[{source}] manifest {manifest} not found (split {split!r}); manifests in {root}: "
                            f"{present}. Fix data.sources.{source}.splits")
        return manifest, None
    if root.is_file():
        return root, split
    raise DataError(f"[{source}] manifest not found: {root} (set data.sources.{source}.path)")


def _audio_base(cfg: SourceConfig, manifest: Path) -> Path:
    if not cfg.audio_dir:
        return manifest.parent
    audio_dir = Path(cfg.audio_dir).expanduser()
    return audio_dir if audio_dir.is_absolute() else manifest.parent / audio_dir


def _duration(row: dict[str, Any], cfg: SourceConfig, ref: AudioRef, where: str) -> float:
    """Seconds from the duration column when present (file existence still checked), else the header."""
    if cfg.duration_column and row.get(cfg.duration_column) not in (None, ""):
        try:
            seconds = float(row[cfg.duration_column])
        except (TypeError, ValueError) as err:
            raise RowError(f"{cfg.duration_column}={row[cfg.duration_column]!r} is not a number") from err
        if not Path(ref.path or "").is_file():
            raise AudioError(f"audio file not found: {ref.path}")
        return seconds if math.isfinite(seconds) else math.nan
    return audio_duration(ref)


def read_manifest(source: str, cfg: SourceConfig, split: str, *, on_error: str = "raise",
                  drops: DropCounter | None = None, encoding: str | None = None) -> Dataset:
    """One split of a manifest corpus in the common schema (see module doc)."""
    drops = drops if drops is not None else DropCounter()
    if not cfg.path:
        raise DataError(f"[{source}] no manifest: set data.sources.{source}.path")
    manifest, split_value = _manifest_for(source, cfg, split)
    if manifest.suffix.lower() not in (*DELIMITED, *JSON_LINES):
        raise DataError(f"{manifest}: unknown manifest format {manifest.suffix!r}; use .csv, .tsv or .jsonl")
    text = read_text(manifest, encoding)
    header = _header(manifest, text)
    if header is not None:
        check_columns(source, header, cfg, str(manifest))
    if split_value is not None and header is not None and SPLIT_COLUMN not in header:
        raise DataError(f"[{source}] {manifest} has no {SPLIT_COLUMN!r} column to select split {split!r}; "
                        f"point data.sources.{source}.path at a folder of per-split manifests instead")
    base = _audio_base(cfg, manifest)
    records = empty_records()
    seen_splits: set[str] = set()
    for number, row in _rows(manifest, text):
        where = f"{manifest}:{number}"
        if isinstance(row, RowError):
            drops.fault(on_error, source, "unreadable manifest row", f"{where}: {row}")
            continue
        if header is None:
            missing = [c for c in (cfg.audio_column, cfg.text_column, cfg.id_column) if c and c not in row]
            if missing:
                drops.fault(on_error, source, "unreadable manifest row",
                            f"{where}: no {missing} (columns: {sorted(row)}; set data.sources.{source}.*_column)")
                continue
        if split_value is not None:
            seen_splits.add(str(row.get(SPLIT_COLUMN)))
            if str(row.get(SPLIT_COLUMN)) != split_value:
                continue
        audio_value = str(row[cfg.audio_column] or "").strip()
        if not audio_value:
            drops.fault(on_error, source, "missing audio path", f"{where}: empty {cfg.audio_column!r}")
            continue
        audio_path = Path(audio_value).expanduser()
        ref = AudioRef(path=str(audio_path if audio_path.is_absolute() else (base / audio_path).resolve()))
        try:
            duration = _duration(row, cfg, ref, where)
        except RowError as err:
            drops.fault(on_error, source, "unreadable manifest row", f"{where}: {err}")
            continue
        except AudioError as err:
            drops.fault(on_error, source, err.reason, f"{where}: {err}")
            continue
        sample_id = row[cfg.id_column] if cfg.id_column else audio_value
        speaker = row.get(cfg.speaker_column) if cfg.speaker_column else None
        records["id"].append(f"{source}/{sample_id}")
        records["audio"].append({"path": ref.path, "bytes": None})
        records["text"].append("" if row[cfg.text_column] is None else str(row[cfg.text_column]))
        records["source"].append(source)
        records["duration"].append(duration)
        records["speaker"].append("" if speaker is None else str(speaker))
    if split_value is not None and split_value not in seen_splits:
        raise MissingSplitError(f"[{source}] split {split_value!r} not found in the {SPLIT_COLUMN!r} column of "
                                f"{manifest}; values present: {sorted(seen_splits)}")
    return dataset_from_records(records)
