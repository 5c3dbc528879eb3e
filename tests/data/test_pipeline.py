"""Split preparation: filters counted per reason, bad audio raised or skipped (nested subsets:
test_subsets_and_streaming.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_audiofolder, write_tone
from transformers import WhisperFeatureExtractor

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import DataConfig, SourceConfig
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.features import FeatureStore, LogMelSettings
from whisper_exp.data.pipeline import build_split


def _labeller(text: str) -> list[int]:
    return list(range(len(text.split()) + 3))  # prompt-ish prefix + one id per word


def _data(path: Path, **overrides) -> DataConfig:
    return typed_defaults(DataConfig, name="t", sources={"t": typed_defaults(SourceConfig, kind="local",
                                                                             path=str(path))}, **overrides)


def _build(data: DataConfig, split: str, tmp_path: Path, drops: DropCounter, max_label_tokens: int = 448):
    extractor = WhisperFeatureExtractor(feature_size=80)
    store = FeatureStore(tmp_path / "features", LogMelSettings.from_extractor(extractor))
    return build_split(data, split, extractor=extractor, labeller=_labeller, max_label_tokens=max_label_tokens,
                       store=store, seed=0, drops=drops)


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """Good clips plus one of each fault the pipeline must catch."""
    root = tmp_path / "messy"
    write_tone(root / "ok1.wav", 1.0)
    write_tone(root / "ok2.wav", 2.0, sample_rate=44_100, channels=2)
    write_tone(root / "long.wav", 31.0)
    write_tone(root / "empty_text.wav", 1.0)
    write_tone(root / "wordy.wav", 1.0)
    (root / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    write_tone(root / "silent.wav", 0.0)  # a valid header, zero frames
    rows = [("ok1.wav", "a fine clip"), ("ok2.wav", "stereo at forty four point one"),
            ("long.wav", "far too long"), ("empty_text.wav", "   "), ("wordy.wav", " ".join(["word"] * 30)),
            ("corrupt.wav", "broken file"), ("missing.wav", "not there"), ("silent.wav", "zero length")]
    return write_audiofolder(root, [{"file_name": f, "transcription": t, "split": "train"} for f, t in rows])


def test_faults_raise_with_file_names_by_default(messy: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"corrupt.wav|missing.wav"):
        _build(_data(messy), "train", tmp_path, DropCounter())


def test_faults_are_skipped_and_counted_per_reason(messy: Path, tmp_path: Path) -> None:
    drops = DropCounter()
    split = _build(_data(messy, on_error="skip"), "train", tmp_path, drops, max_label_tokens=20)
    assert split.texts == ["a fine clip", "stereo at forty four point one"]
    assert drops.as_dict() == {"t": {"empty transcript": 1, "label longer than 20 tokens": 1,
                                     "longer than 30.0 s": 1, "zero-length audio": 1, "unreadable audio": 2}}
    assert split[1]["features"].shape[1] == 80
    assert len(split.labels[0]) == 3 + 3


def test_features_are_reused_from_the_store(tmp_path: Path) -> None:
    root = tmp_path / "c"
    write_tone(root / "a.wav", 1.0)
    write_audiofolder(root, [{"file_name": "a.wav", "transcription": "x", "split": "test"}])
    first = _build(_data(root), "test", tmp_path, DropCounter())
    stamp = Path(first.feature_paths[0]).stat().st_mtime_ns
    second = _build(_data(root), "test", tmp_path, DropCounter())
    assert second.feature_paths == first.feature_paths
    assert Path(second.feature_paths[0]).stat().st_mtime_ns == stamp

