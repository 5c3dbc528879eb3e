"""Corpus readers. Each returns one split of one source in the common schema (data.schema)."""

from __future__ import annotations

from collections.abc import Callable

from datasets import Dataset

from whisper_exp.config.schema import SourceConfig
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.sources.local import read_audiofolder

SourceReader = Callable[[str, SourceConfig, str, str, DropCounter], Dataset]


def _read_local(name: str, cfg: SourceConfig, split: str, on_error: str, drops: DropCounter) -> Dataset:
    if not cfg.path:
        raise DataError(f"[{name}] no path: set data.sources.{name}.path (or data.path for data=local)")
    return read_audiofolder(name, cfg.path, split, text_column=cfg.text_column, on_error=on_error, drops=drops)


READERS: dict[str, SourceReader] = {"local": _read_local}


def read_source(name: str, cfg: SourceConfig, split: str, on_error: str, drops: DropCounter) -> Dataset:
    """Read split `split` (a name from the source's own splits mapping) of source `name`."""
    reader = READERS.get(cfg.kind)
    if reader is None:
        raise DataError(f"data.sources.{name}.kind={cfg.kind!r} is unknown; choose one of {sorted(READERS)}")
    return reader(name, cfg, split, on_error, drops)
