"""Bring any `datasets` table (hub corpus, saved parquet/arrow) to the common schema (data.schema).

Each source declares its columns (`text_column`, `audio_column`, optional `id_column`,
`speaker_column`, `duration_column`); everything else is dropped. The audio column may hold

* an `Audio` feature or a plain {"bytes", "path"} struct (hub parquet: 48 kHz mp3, flac, wav …):
  kept as it is (in a non-streaming table the column is reused, not copied), never decoded here;
* decoded arrays, {"array", "sampling_rate"} of any float dtype (e.g. a dataset saved after
  decoding): re-encoded once as float32 WAV bytes (`audio.encode_wav`); a cell that cannot be
  encoded (no rate, no samples, not numbers) keeps its row with an ``invalid://<why>`` path, so it
  is raised or dropped and counted (data.on_error) where clips are decoded, never failing the split;
* a path string: resolved against `audio_dir` (or the local dataset folder) when relative.

After this step every source has identical features (`schema.FEATURES`), so interleaving
sources with different sampling rates or array dtypes cannot fail with "features can't be
aligned"; the rate and dtype are unified when the clip is decoded (`audio.load_audio`).

IDs: ``<source>/<id_column value>`` when the source has a unique id column, else
``<source>/<audio file name>``, else ``<source>/<sha1 of the audio bytes>`` — the same in
streaming and non-streaming mode (row positions are not: streams are read in shuffled shards).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Audio, Dataset, Features, IterableDataset, concatenate_datasets

from whisper_exp.config.schema import SourceConfig
from whisper_exp.data.audio import MAX_CHANNELS, UNREADABLE, AudioError, encode_wav, invalid_audio_path
from whisper_exp.data.errors import DataError
from whisper_exp.data.schema import COLUMNS, FEATURES, PLAIN_FEATURES

COLUMN_KEYS = ("audio_column", "text_column", "id_column", "speaker_column", "duration_column")
BYTES_ID_CHARS = 16


def check_columns(source: str, columns: Iterable[str], cfg: SourceConfig, where: str) -> None:
    """Fail with the available columns when a declared column is missing."""
    available = sorted(columns)
    for key in COLUMN_KEYS:
        column = getattr(cfg, key)
        if column and column not in available:
            raise DataError(f"[{source}] {where}: no column {column!r} (data.sources.{source}.{key}); "
                            f"columns are {available}")


def _is_audio_struct(feature: Any) -> bool:
    return isinstance(feature, dict) and set(feature) >= {"bytes", "path"} and "array" not in feature


def _audio_value(value: Any, base_dir: Path | None) -> dict[str, Any]:
    """One audio cell → {"bytes", "path"} (see module doc for the accepted forms)."""
    if isinstance(value, dict) and value.get("array") is not None:
        try:
            return {"bytes": encode_wav(value["array"], value.get("sampling_rate")), "path": value.get("path")}
        except (AudioError, ValueError, TypeError) as err:  # numpy/soundfile reject odd arrays with these
            reason = err.reason if isinstance(err, AudioError) else UNREADABLE
            where = value.get("path") or "decoded array"
            return {"bytes": None, "path": invalid_audio_path(AudioError(f"{where}: {err}", reason))}
    if isinstance(value, dict):
        path = value.get("path")
        if value.get("bytes") is None and path and base_dir is not None and not Path(path).is_absolute():
            path = str(base_dir / path)
        return {"bytes": value.get("bytes"), "path": path}
    if isinstance(value, str):
        path = value if base_dir is None or Path(value).is_absolute() else str(base_dir / value)
        return {"bytes": None, "path": path}
    raise AudioError(f"unsupported audio value of type {type(value).__name__}")


def _duration(example: dict[str, Any], cfg: SourceConfig) -> float:
    if cfg.duration_column and example.get(cfg.duration_column) is not None:
        return float(example[cfg.duration_column])
    value = example.get(cfg.audio_column)
    if isinstance(value, dict) and value.get("array") is not None and value.get("sampling_rate"):
        try:
            shape = np.shape(value["array"])
        except ValueError:  # ragged: left to the decoder to reject (counted there)
            return math.nan
        # (channels, frames) as well as (frames, channels): see audio.encode_wav
        frames = shape[1] if len(shape) == 2 and shape[0] <= MAX_CHANNELS < shape[1] else (shape[0] if shape else 0)
        return frames / float(value["sampling_rate"]) if frames else math.nan
    return math.nan


def _sample_id(source: str, example: dict[str, Any], audio: dict[str, Any] | None, cfg: SourceConfig) -> str:
    if cfg.id_column:
        return f"{source}/{example[cfg.id_column]}"
    if audio is not None and audio.get("path"):
        return f"{source}/{Path(str(audio['path'])).name}"
    if audio is not None and audio.get("bytes") is not None:
        return f"{source}/{hashlib.sha1(audio['bytes']).hexdigest()[:BYTES_ID_CHARS]}"
    raise DataError(f"[{source}] a sample has no id column, audio path or audio bytes to identify it; "
                    f"set data.sources.{source}.id_column")


def _metadata(source: str, cfg: SourceConfig, example: dict[str, Any], audio: dict[str, Any] | None) -> dict:
    """The common columns other than audio for one raw example."""
    text = example.get(cfg.text_column)
    speaker = example.get(cfg.speaker_column) if cfg.speaker_column else None
    return {"id": _sample_id(source, example, audio, cfg), "text": "" if text is None else str(text),
            "source": source, "duration": _duration(example, cfg), "speaker": "" if speaker is None else str(speaker)}


def example_converter(source: str, cfg: SourceConfig, base_dir: Path | None) -> Callable[[dict], dict]:
    """A function mapping one raw example to the common schema (audio as a plain struct)."""

    def convert(example: dict[str, Any]) -> dict[str, Any]:
        try:
            audio = _audio_value(example[cfg.audio_column], base_dir)
        except AudioError as err:
            raise DataError(f"[{source}] bad audio in column {cfg.audio_column!r}: {err}") from err
        return {"audio": audio, **_metadata(source, cfg, example, audio)}

    return convert


def _with_plain_audio(table: Dataset | IterableDataset, audio_column: str) -> Dataset | IterableDataset:
    """Stop `datasets` from decoding: an Audio column becomes Audio(decode=False)."""
    features = table.features
    if features is not None and isinstance(features.get(audio_column), Audio):
        return table.cast_column(audio_column, Audio(decode=False))
    return table


def harmonise(table: Dataset | IterableDataset, source: str, cfg: SourceConfig,
              base_dir: Path | None = None) -> Dataset | IterableDataset:
    """The common-schema view of `table` (Dataset or IterableDataset, whatever its columns)."""
    if table.features is not None:
        check_columns(source, table.features, cfg, "dataset")
    table = _with_plain_audio(table, cfg.audio_column)
    audio_feature = table.features.get(cfg.audio_column) if table.features is not None else None
    keeps_audio = isinstance(audio_feature, Audio) or _is_audio_struct(audio_feature)
    if isinstance(table, Dataset) and keeps_audio:
        # Zero-copy: only the small columns are written anew; the audio column is reused as it is (and
        # not even read when an id column names the samples).
        described = table.remove_columns(cfg.audio_column) if cfg.id_column else table
        small = described.map(lambda example: _metadata(source, cfg, example, example.get(cfg.audio_column)),
                              remove_columns=described.column_names,
                              features=Features({n: f for n, f in PLAIN_FEATURES.items() if n != "audio"}),
                              desc=f"{source}: harmonise columns")
        audio = table.select_columns([cfg.audio_column])
        if cfg.audio_column != "audio":
            audio = audio.rename_column(cfg.audio_column, "audio")
        merged = concatenate_datasets([audio.cast_column("audio", Audio(decode=False)), small], axis=1)
        return merged.select_columns(list(COLUMNS)).cast(FEATURES)
    columns = list(table.column_names) if table.column_names is not None else None
    converted = table.map(example_converter(source, cfg, base_dir), remove_columns=columns,
                          features=PLAIN_FEATURES, **({"desc": f"{source}: harmonise"} if isinstance(
                              table, Dataset) else {}))
    return converted.cast(FEATURES)

