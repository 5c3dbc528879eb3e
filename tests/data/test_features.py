"""Stored log-mels rebuild Whisper's padded input exactly; the store is keyed and atomic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import write_tone
from transformers import WhisperFeatureExtractor

from whisper_exp.data.audio import AudioRef, load_audio
from whisper_exp.data.features import FeatureStore, LogMelSettings, compute_features, pad_features


@pytest.fixture(scope="module")
def extractor() -> WhisperFeatureExtractor:
    return WhisperFeatureExtractor(feature_size=80)


@pytest.mark.parametrize("seconds", [0.3, 2.7, 11.0, 29.99, 30.0])
def test_compact_features_pad_back_to_the_extractor_output(extractor, tmp_path: Path, seconds: float) -> None:
    audio = load_audio(AudioRef(path=str(write_tone(tmp_path / "a.wav", seconds, frequency=300))), 16_000)
    full = extractor(audio, sampling_rate=16_000, return_tensors="np").input_features[0]
    frames = compute_features(extractor, audio)
    assert frames.shape[1] == 80
    assert frames.shape[0] <= 3000
    if seconds < 29:
        assert frames.shape[0] < 0.5 * 3000 * seconds / 15 + 10  # only frames that carry audio are stored
    np.testing.assert_array_equal(pad_features(frames, 3000), full)


def test_quiet_audio_uses_the_silence_floor(extractor) -> None:
    audio = np.full(8000, 1e-6, dtype=np.float32)
    full = extractor(audio, sampling_rate=16_000, return_tensors="np").input_features[0]
    np.testing.assert_array_equal(pad_features(compute_features(extractor, audio), 3000), full)


def test_128_mel_bins(tmp_path: Path) -> None:
    extractor = WhisperFeatureExtractor(feature_size=128)
    audio = load_audio(AudioRef(path=str(write_tone(tmp_path / "a.wav", 1.0))), 16_000)
    full = extractor(audio, sampling_rate=16_000, return_tensors="np").input_features[0]
    np.testing.assert_array_equal(pad_features(compute_features(extractor, audio), 3000), full)


def test_store_keys_by_audio_and_settings(extractor, tmp_path: Path) -> None:
    settings = LogMelSettings.from_extractor(extractor)
    store = FeatureStore(tmp_path / "cache", settings)
    a = AudioRef(path=str(write_tone(tmp_path / "a.wav", 1.0)))
    b = AudioRef(path=str(write_tone(tmp_path / "b.wav", 1.0, frequency=880)))
    assert store.path_for(a) != store.path_for(b)
    frames = compute_features(extractor, load_audio(a, 16_000))
    store.save(store.path_for(a), frames)
    np.testing.assert_array_equal(store.load(store.path_for(a)), frames)
    assert not list(store.folder.rglob("*.tmp"))
    other = FeatureStore(tmp_path / "cache", LogMelSettings.from_extractor(WhisperFeatureExtractor(feature_size=128)))
    assert other.folder != store.folder
    before = store.path_for(a)
    write_tone(Path(a.path), 1.3, frequency=1200)  # same path, new content → new key
    assert store.path_for(a) != before
    half = FeatureStore(tmp_path / "cache", settings, dtype="float16")
    half.save(half.path_for(a), frames)
    assert half.load(half.path_for(a)).dtype == np.float32
    with pytest.raises(ValueError, match="data.features.dtype"):
        FeatureStore(tmp_path / "cache", settings, dtype="int8")
