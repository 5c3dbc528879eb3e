"""Nested subsets (eager and streaming), rank sharding, per-epoch order and the streaming guard rails."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import write_audiofolder, write_tone
from transformers import WhisperFeatureExtractor

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import DataConfig, SourceConfig
from whisper_exp.data.datamodule import SpeechDataModule
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.features import FeatureStore, LogMelSettings
from whisper_exp.data.pipeline import build_split, build_stream
from whisper_exp.data.streaming import EpochDataLoader
from whisper_exp.families.whisper import WhisperCollator

EXTRACTOR = WhisperFeatureExtractor(feature_size=80)


def labeller(text: str) -> list[int]:
    return [1] * (len(text.split()) + 3)


@pytest.fixture(scope="module")
def big_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 rows (every 7th with an empty transcript) over one short clip: cheap to index and featurise."""
    root = tmp_path_factory.mktemp("big")
    write_tone(root / "clip.wav", 0.3)
    rows = [{"audio_filepath": "clip.wav", "text": "" if i % 7 == 3 else f"utterance {i}", "duration": 0.3,
             "id": f"u{i:04d}"} for i in range(1200)]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _manifest_data(root: Path, **overrides) -> DataConfig:
    source = typed_defaults(SourceConfig, kind="manifest", path=str(root), audio_column="audio_filepath",
                            text_column="text", duration_column="duration", id_column="id",
                            splits={"train": "train.jsonl"})
    return typed_defaults(DataConfig, name="big", sources={"big": source}, **overrides)


def test_eager_subsets_are_nested_usable_and_deterministic(big_manifest: Path, tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "f", LogMelSettings.from_extractor(EXTRACTOR))
    chosen = {}
    for n in (250, 500, 1000):
        split = build_split(_manifest_data(big_manifest, train_samples=n), "train", extractor=EXTRACTOR,
                            labeller=labeller, max_label_tokens=448, store=store, seed=7, drops=DropCounter())
        assert len(split) == n and all(text for text in split.texts)  # N usable clips, empty texts skipped
        chosen[n] = set(split.ids)
    assert chosen[250] < chosen[500] < chosen[1000]
    again = build_split(_manifest_data(big_manifest, train_samples=500), "train", extractor=EXTRACTOR,
                        labeller=labeller, max_label_tokens=448, store=store, seed=7, drops=DropCounter())
    assert set(again.ids) == chosen[500]
    other_seed = build_split(_manifest_data(big_manifest, train_samples=500), "train", extractor=EXTRACTOR,
                             labeller=labeller, max_label_tokens=448, store=store, seed=8, drops=DropCounter())
    assert set(other_seed.ids) != chosen[500]


def test_streaming_subsets_are_nested_and_say_they_differ(big_manifest: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    chosen = {}
    for n in (250, 500, 1000):
        with caplog.at_level(logging.WARNING):
            split = build_stream(_manifest_data(big_manifest, train_samples=n, streaming=True), "train",
                                 extractor=EXTRACTOR, labeller=labeller, max_label_tokens=448, seed=7,
                                 drops=DropCounter())
        ids = [example["id"] for example in split.stream]
        assert len(ids) == len(set(ids)) == n
        chosen[n] = set(ids)
    assert chosen[250] < chosen[500] < chosen[1000]
    assert "not the same clips as with data.streaming=false" in caplog.text


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tones")
    rows = []
    for i in range(12):
        split = "train" if i < 8 else "validation"
        write_tone(root / f"{i}.wav", 0.3 + 0.02 * i, frequency=200 + 40 * i)
        rows.append({"file_name": f"{i}.wav", "transcription": "" if i == 5 else f"clip {i}", "split": split})
    return write_audiofolder(root, rows)


def _tone_data(root: Path, **overrides) -> DataConfig:
    source = typed_defaults(SourceConfig, kind="local", path=str(root))
    return typed_defaults(DataConfig, name="tones", sources={"tones": source}, streaming=True, stream_shards=4,
                          **overrides)


def _stream(root: Path, split: str, rank: int = 0, world_size: int = 1, drops: DropCounter | None = None,
            **overrides):
    return build_stream(_tone_data(root, **overrides), split, extractor=EXTRACTOR, labeller=labeller,
                        max_label_tokens=448, seed=1, drops=drops or DropCounter(), rank=rank, world_size=world_size)


@pytest.mark.parametrize(("split", "overrides", "size"), [
    ("train", {}, 8), ("validation", {}, 4), ("train", {"train_samples": 5}, 5)])
def test_two_ranks_see_disjoint_shards_that_cover_the_split(tones: Path, split: str, overrides: dict,
                                                            size: int) -> None:
    """What DDP ranks read (ids of each rank's stream; decoding is the same on every rank)."""
    seen = [[example["id"] for example in _stream(tones, split, rank, 2, **overrides).stream] for rank in (0, 1)]
    assert seen[0] and seen[1] and set(seen[0]).isdisjoint(seen[1])
    single = [example["id"] for example in _stream(tones, split, **overrides).stream]
    assert sorted(seen[0] + seen[1]) == sorted(single) and len(single) == size


def test_each_epoch_has_a_new_order_and_drops_are_counted_once(tones: Path) -> None:
    drops = DropCounter()
    split = _stream(tones, "train", drops=drops)
    loader = EpochDataLoader(split, batch_size=4, collate_fn=WhisperCollator(EXTRACTOR.nb_max_frames))
    epochs = [[i for batch in loader for i in batch["ids"]] for _ in range(3)]
    assert split.epoch == 2
    assert sorted(epochs[0]) == sorted(epochs[1]) == sorted(epochs[2]) and len(epochs[0]) == 7
    assert len({tuple(e) for e in epochs}) == 3
    assert drops.as_dict() == {"tones": {"empty transcript": 1}}  # seen three times, counted once
    batch = next(iter(loader))
    assert batch["input_features"].shape == (4, 80, 3000) and batch["labels"].shape[0] == 4
    subset = _stream(tones, "train", train_samples=5)
    orders = []
    for epoch in (0, 1):
        subset.set_epoch(epoch)
        orders.append([example["id"] for example in subset._examples()])
    assert sorted(orders[0]) == sorted(orders[1]) and orders[0] != orders[1]  # same clips, new order


def test_streaming_needs_max_steps_and_reports_no_size(tones: Path, tmp_path: Path) -> None:
    module = SpeechDataModule(_tone_data(tones), extractor=EXTRACTOR, labeller=labeller,
                              collate=WhisperCollator(EXTRACTOR.nb_max_frames), max_label_tokens=448,
                              cache_dir=tmp_path, seed=0)
    module.trainer = SimpleNamespace(max_steps=-1, global_rank=0, world_size=1)
    with pytest.raises(DataError, match="trainer.max_steps"):
        module.setup("fit")
    module.trainer = SimpleNamespace(max_steps=10, global_rank=1, world_size=2)
    module.setup("fit")
    assert set(module.streams) == {"train", "validation"} and not module.splits
    assert isinstance(module.train_dataloader(), EpochDataLoader)
    assert module.train_summary() == {"train_samples": None, "train_hours": None, "streaming": True}
