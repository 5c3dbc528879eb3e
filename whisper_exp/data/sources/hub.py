"""Hugging Face datasets: a hub id, or a local copy shaped like one (saved parquet or arrow).

``path`` is either

* a hub id (``openslr/librispeech_asr``), loaded with ``datasets.load_dataset(path, name,
  data_dir=…, data_files=…, revision=…, split=…, streaming=…)``. datasets >= 4 no longer runs
  loading scripts; corpora that still ship one (FLEURS, Common Voice 11) load from their
  automatic parquet export: ``revision: refs/convert/parquet`` with ``data_dir: <config>``
  (see the headers of whisper_exp/conf/data/*.yaml); or
* a local folder: a `save_to_disk` DatasetDict (``dataset_dict.json``) or one saved Dataset
  per split folder, or parquet/arrow/csv files that `load_dataset` can read from a folder
  (e.g. a downloaded parquet export: ``el/train/0000.parquet``), one folder per split or
  ``data_files``. ``data_dir`` and then the config ``name`` (when such a folder exists) are
  applied below the folder, so a local copy of a hub repo or export works with the same config.

Audio stays undecoded (`Audio(decode=False)`); `data.harmonise` maps the declared columns to
the common schema. Streaming (``data.streaming=true``) returns an `IterableDataset`, reading
the same rows as the non-streaming table (up to order).
"""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset, DatasetDict, IterableDataset, load_dataset, load_from_disk

from whisper_exp.config.schema import SourceConfig
from whisper_exp.data.errors import DataError, MissingSplitError
from whisper_exp.data.harmonise import harmonise

SAVED_DICT_MARKER = "dataset_dict.json"
SAVED_DATASET_MARKER = "state.json"


def _saved_split(source: str, base: Path, split: str) -> Dataset | None:
    """A split of a `save_to_disk` dataset under `base`, None if `base` is not one."""
    if (base / SAVED_DICT_MARKER).is_file():
        saved = load_from_disk(str(base))
        assert isinstance(saved, DatasetDict)
        if split not in saved:
            raise MissingSplitError(f"[{source}] split {split!r} not found in {base}; splits present: {sorted(saved)}. "
                            f"Fix data.sources.{source}.splits")
        return saved[split]
    if (base / split / SAVED_DATASET_MARKER).is_file():
        table = load_from_disk(str(base / split))
        assert isinstance(table, Dataset)
        return table
    if any((child / SAVED_DATASET_MARKER).is_file() for child in base.iterdir() if child.is_dir()):
        present = sorted(c.name for c in base.iterdir() if (c / SAVED_DATASET_MARKER).is_file())
        raise MissingSplitError(f"[{source}] split {split!r} not found in {base}; splits present: {present}. "
                        f"Fix data.sources.{source}.splits")
    return None


def _load_error(source: str, where: str, split: str, err: Exception) -> DataError:
    text = str(err)
    if "Unknown split" in text or "Bad split" in text:
        return MissingSplitError(f"[{source}] split {split!r} does not exist in {where}: {text} "
                         f"Fix data.sources.{source}.splits")
    if "scripts are no longer supported" in text:
        return DataError(f"[{source}] {where} is a script-based dataset, which datasets >= 4 cannot run. Load its "
                         f"parquet export instead: data.sources.{source}.revision=refs/convert/parquet "
                         f"data.sources.{source}.data_dir=<config name> ({text})")
    return DataError(f"[{source}] cannot load {where} (split {split!r}): {type(err).__name__}: {text}. "
                     f"Without network access, download it and set data.sources.{source}.path=/local/folder")


def _load(source: str, cfg: SourceConfig, split: str, streaming: bool,
          stream_shards: int) -> tuple[Dataset | IterableDataset, Path | None]:
    """The raw table of one split, and the folder relative audio paths refer to (local copies)."""
    assert cfg.path is not None
    local = Path(cfg.path).expanduser()
    if local.exists():
        base = local / cfg.data_dir if cfg.data_dir else local
        if cfg.name and (base / cfg.name).is_dir():
            base = base / cfg.name  # a local copy of a hub repo keeps each config in its own folder
        if not base.is_dir():
            raise DataError(f"[{source}] folder not found: {base} (data.sources.{source}.path / data_dir)")
        saved = _saved_split(source, base, split)
        if saved is not None:
            table: Dataset | IterableDataset = (
                saved.to_iterable_dataset(num_shards=max(1, min(stream_shards, len(saved))))
                if streaming else saved)
            return table, base
        data_files = cfg.data_files
        if data_files is None and (base / split).is_dir():
            # Split folders named like hub splits ("train.100") are not recognised by name inference.
            data_files = {split: f"{split}/**"}
        try:
            return load_dataset(str(base), data_files=data_files, split=split, streaming=streaming), base
        except (ValueError, FileNotFoundError) as err:
            raise _load_error(source, str(base), split, err) from err
    try:
        table = load_dataset(cfg.path, cfg.name, data_dir=cfg.data_dir, data_files=cfg.data_files,
                             revision=cfg.revision, split=split, streaming=streaming)
    except Exception as err:  # datasets/hub raise many types (HTTP, missing splits, gated repos, …)
        raise _load_error(source, f"hub dataset {cfg.path!r}", split, err) from err
    return table, None


def read_hub(source: str, cfg: SourceConfig, split: str, *, streaming: bool,
             stream_shards: int = 8) -> Dataset | IterableDataset:
    """One split of a hub (or hub-shaped local) dataset in the common schema.

    A saved local dataset is cut into `stream_shards` shards when streamed (data.stream_shards).
    """
    if not cfg.path:
        raise DataError(f"[{source}] no dataset: set data.sources.{source}.path to a hub id or a local folder")
    table, base = _load(source, cfg, split, streaming, stream_shards)
    audio_dir = Path(cfg.audio_dir).expanduser() if cfg.audio_dir else base
    return harmonise(table, source, cfg, audio_dir)
