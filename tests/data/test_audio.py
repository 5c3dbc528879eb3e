"""Decoding: mono mixdown, resampling, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import write_tone

from whisper_exp.data.audio import AudioError, AudioRef, audio_duration, load_audio


def _dominant_frequency(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.fft.rfftfreq(len(audio), 1 / sample_rate)[spectrum.argmax()])


def test_stereo_44k_is_mixed_to_mono_and_resampled(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "stereo.wav", seconds=2.0, sample_rate=44_100, channels=2, frequency=1000)
    audio = load_audio(AudioRef(path=str(path)), 16_000)
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert len(audio) == pytest.approx(32_000, abs=2)
    assert _dominant_frequency(audio, 16_000) == pytest.approx(1000, abs=2)
    left_right_mean = sf.read(path)[0].mean(axis=1)
    rms = float(np.sqrt(np.mean(audio**2)))
    assert rms == pytest.approx(float(np.sqrt(np.mean(left_right_mean**2))), rel=0.02)


@pytest.mark.parametrize(("fmt", "subtype"), [("flac", "PCM_16"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")])
def test_compressed_formats_decode(tmp_path: Path, fmt: str, subtype: str) -> None:
    path = write_tone(tmp_path / f"tone.{fmt}", seconds=1.5, sample_rate=48_000, frequency=500, subtype=subtype)
    audio = load_audio(AudioRef(path=str(path)), 16_000)
    assert len(audio) == pytest.approx(24_000, rel=0.05)
    assert _dominant_frequency(audio, 16_000) == pytest.approx(500, abs=3)


def test_bytes_and_path_give_the_same_audio(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "tone.flac", seconds=1.0)
    from_bytes = load_audio(AudioRef(data=path.read_bytes()), 16_000)
    np.testing.assert_array_equal(from_bytes, load_audio(AudioRef(path=str(path)), 16_000))
    assert audio_duration(AudioRef(data=path.read_bytes())) == pytest.approx(1.0)


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(AudioError, match="not found: .*nope.wav"):
        load_audio(AudioRef(path=str(missing)), 16_000)
    with pytest.raises(AudioError, match="nope.wav"):
        audio_duration(AudioRef(path=str(missing)))


def test_corrupt_and_truncated_files_are_named(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AudioError, match="garbage.wav"):
        load_audio(AudioRef(path=str(garbage)), 16_000)
    good = write_tone(tmp_path / "good.flac", seconds=2.0)
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(AudioError, match="truncated.flac"):
        load_audio(AudioRef(path=str(truncated)), 16_000)


def test_zero_length_audio_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(AudioError, match="zero length.*empty.wav"):
        load_audio(AudioRef(path=str(empty)), 16_000)
