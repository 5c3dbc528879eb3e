"""Local corpora in Hugging Face "audiofolder" layout, read without torchcodec.

Layout accepted (as `datasets`' audiofolder documents it):

* ``ROOT/metadata.csv`` (or ``metadata.jsonl``) with a ``file_name`` column (path relative to
  ROOT) and a transcript column (``transcription`` by default); extra columns are ignored,
  except ``split`` (train/validation/test) and ``speaker`` which are used when present; or
* ``ROOT/<split>/metadata.csv`` per split folder; or a root metadata file whose ``file_name``
  values start with the split folder (``train/clip.wav``).

Split folder aliases follow audiofolder: valid/dev/eval → validation.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from datasets import Dataset

from whisper_exp.data.audio import AudioError, AudioRef, audio_duration
from whisper_exp.data.errors import DataError, DropCounter, MissingSplitError
from whisper_exp.data.schema import dataset_from_records
from whisper_exp.data.text_encoding import read_text

METADATA_NAMES = ("metadata.csv", "metadata.jsonl")
# The split of rows that name none (datasets' audiofolder convention).
UNSPLIT = "train"
SPLIT_ALIASES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                 "val": "validation", "dev": "validation", "eval": "validation", "test": "test",
                 "testing": "test"}


def _read_metadata(path: Path, encoding: str | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) from a metadata.csv / metadata.jsonl file (encoding: data.text_encoding)."""
    text = read_text(path, encoding)
    if path.suffix == ".jsonl":
        with io.StringIO(text) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{number}: not valid JSON ({err}); fix or remove the line") from err
        return
    with io.StringIO(text, newline="") as handle:
        reader = csv.DictReader(handle)
        for number, row in enumerate(reader, start=2):
            yield number, row


def _metadata_files(root: Path) -> list[tuple[Path, str | None]]:
    """(metadata file, split implied by its folder or None) for the root and split folders."""
    found: list[tuple[Path, str | None]] = [(root / n, None) for n in METADATA_NAMES if (root / n).is_file()]
    if found:
        return found[:1]
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        split = SPLIT_ALIASES.get(child.name.lower())
        for name in METADATA_NAMES:
            if split and (child / name).is_file():
                found.append((child / name, split))
                break
    return found


def _row_split(row: dict[str, str], file_name: str, implied: str | None) -> str:
    if implied is not None:
        return implied
    if row.get("split"):
        return SPLIT_ALIASES.get(row["split"].strip().lower(), row["split"].strip().lower())
    first = Path(file_name).parts[0].lower() if Path(file_name).parts else ""
    # A flat folder (no split column, no split sub-folders) is one split, which datasets' audiofolder calls train.
    return SPLIT_ALIASES.get(first, UNSPLIT)


def read_audiofolder(
    source: str,
    root: str | Path,
    split: str,
    *,
    text_column: str = "transcription",
    on_error: str = "raise",
    drops: DropCounter | None = None,
    encoding: str | None = None,
) -> Dataset:
    """Read one split of an audiofolder corpus into the common schema.

    Rows whose audio is missing or unreadable raise a DataError naming the metadata file and
    line, or are skipped and counted when `on_error` is "skip".
    """
    drops = drops if drops is not None else DropCounter()
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"[{source}] dataset folder not found: {root} (check data.path / the source's path)")
    metadata = _metadata_files(root)
    if not metadata:
        raise DataError(f"[{source}] no metadata.csv or metadata.jsonl in {root} or its split folders; "
                        "audiofolder layout needs one with columns file_name and the transcript")
    wanted = SPLIT_ALIASES.get(split, split)
    records: dict[str, list] = {name: [] for name in ("id", "audio", "text", "source", "duration", "speaker")}
    seen_splits: set[str] = set()
    for meta_path, implied in metadata:
        base = meta_path.parent
        for number, row in _read_metadata(meta_path, encoding):
            for column in ("file_name", text_column):
                if column not in row:
                    raise DataError(f"[{source}] {meta_path}: no column {column!r} (columns: {sorted(row)}); "
                                    f"set the source's text_column to one of them")
            file_name = (row["file_name"] or "").strip()
            row_split = _row_split(row, file_name, implied)
            seen_splits.add(str(row_split))
            if row_split != wanted:
                continue
            where = f"{meta_path.name}:{number}"
            if not file_name:
                drops.fault(on_error, source, "missing file_name", f"{where}: empty file_name")
                continue
            ref = AudioRef(path=str((base / file_name).resolve()))
            try:
                duration = audio_duration(ref)
            except AudioError as err:
                drops.fault(on_error, source, err.reason, f"{where}: {err}")
                continue
            records["id"].append(f"{source}/{file_name}")
            records["audio"].append({"path": ref.path, "bytes": None})
            records["text"].append(row[text_column] or "")
            records["source"].append(source)
            records["duration"].append(duration)
            records["speaker"].append(str(row.get("speaker") or ""))
    if not records["id"] and wanted not in seen_splits:
        flat = " (a flat folder is one split, 'train', as in datasets' audiofolder)" if UNSPLIT in seen_splits else ""
        raise MissingSplitError(f"[{source}] split {split!r} not found in {root}; splits present: "
                                f"{sorted(seen_splits)}{flat}")
    return dataset_from_records(records)
