"""Decoded float64 arrays, zero-length and truncated audio: kept, or in exactly one drop reason (issue 18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from conftest import write_audiofolder, write_tone
from transformers import WhisperFeatureExtractor

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import DataConfig, SourceConfig
from whisper_exp.data.audio import AudioError, AudioRef, audio_duration, load_audio
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.features import FeatureStore, LogMelSettings
from whisper_exp.data.pipeline import build_split
from whisper_exp.data.sources import ReadContext, read_source


def _build(data: DataConfig, split: str, tmp_path: Path, drops: DropCounter):
    extractor = WhisperFeatureExtractor(feature_size=80)
    store = FeatureStore(tmp_path / "features", LogMelSettings.from_extractor(extractor))
    return build_split(data, split, extractor=extractor, labeller=lambda t: list(range(len(t.split()) + 3)),
                       max_label_tokens=448, store=store, seed=0, drops=drops)


def _tone(seconds: float, rate: int) -> np.ndarray:
    return (0.2 * np.sin(np.arange(int(seconds * rate)) * 0.07)).astype(np.float64)


def write_decoded_parquet(root: Path) -> Path:
    """A hub-shaped parquet export whose audio holds decoded float64 arrays (as after `.map` / `cast_column`):
    two good rows and three bad cells."""
    cells = [
        ("good-1", {"array": _tone(0.5, 16000).tolist(), "sampling_rate": 16000}, "one two"),
        ("good-2", {"array": _tone(0.7, 22050).tolist(), "sampling_rate": 22050}, "three four"),
        ("no-rate", {"array": _tone(0.5, 16000).tolist(), "sampling_rate": None}, "five"),
        ("empty", {"array": [], "sampling_rate": 16000}, "six"),
        ("nan", {"array": [float("nan")] * 8000, "sampling_rate": 16000}, "seven"),
    ]
    (root / "train").mkdir(parents=True)
    pq.write_table(pa.table({"id": [c[0] for c in cells], "audio": [c[1] for c in cells],
                             "text": [c[2] for c in cells]}), root / "train" / "0000.parquet")
    return root


def _hub_data(root: Path, **overrides) -> DataConfig:
    source = typed_defaults(SourceConfig, kind="hub", path=str(root), text_column="text", id_column="id",
                            splits={"train": "train"})
    return typed_defaults(DataConfig, name="f64", sources={"f": source}, **overrides)


def test_decoded_float64_arrays_are_kept_and_bad_cells_are_counted(tmp_path: Path) -> None:
    root = tmp_path / "f64"
    (root / "train").mkdir(parents=True)
    stereo = np.stack([_tone(0.6, 8000), _tone(0.6, 8000)])  # (channels, frames): datasets' Audio(mono=False)
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["x y", "z w"], "audio": [
        {"array": stereo.tolist(), "sampling_rate": 8000}, {"array": stereo.T.tolist(), "sampling_rate": 8000}]}),
        root / "train" / "0000.parquet")
    drops = DropCounter()
    split = _build(_hub_data(root), "train", tmp_path, drops)
    assert split.ids == ["f/a", "f/b"] and drops.total() == 0
    rows = {r["id"]: r for r in read_source("f", _hub_data(root).sources["f"], "train", ReadContext())}
    for uid in ("f/a", "f/b"):  # (channels, frames) and (frames, channels): the same 0.6 s, mono float32 at 16 kHz
        audio = load_audio(AudioRef.from_datasets(rows[uid]["audio"]), 16000)
        assert audio.dtype == np.float32 and audio.ndim == 1 and abs(len(audio) - 9600) <= 2
        np.testing.assert_allclose(audio[:4000], load_audio(AudioRef.from_datasets(rows["f/a"]["audio"]), 16000)[:4000],
                                   atol=1e-6)


def test_bad_decoded_cells_skip_one_row_each_or_raise_naming_it(tmp_path: Path) -> None:
    root = write_decoded_parquet(tmp_path / "mixed")
    drops = DropCounter()
    split = _build(_hub_data(root, on_error="skip"), "train", tmp_path, drops)
    assert sorted(split.ids) == ["f/good-1", "f/good-2"]
    assert drops.as_dict() == {"f": {"non-finite audio": 1, "unreadable audio": 1, "zero-length audio": 1}}
    with pytest.raises(DataError, match="f/no-rate|f/empty|f/nan"):
        _build(_hub_data(root), "train", tmp_path, DropCounter())


def test_zero_length_wav_raises_naming_the_file_under_raise(tmp_path: Path) -> None:
    root = tmp_path / "c"
    write_tone(root / "ok.wav", 1.0)
    write_tone(root / "silent.wav", 0.0)
    write_audiofolder(root, [{"file_name": f, "transcription": "words here", "split": "train"}
                             for f in ("ok.wav", "silent.wav")])
    with pytest.raises(DataError, match=r"zero length.*silent\.wav"):
        _build(typed_defaults(DataConfig, name="c", sources={"c": typed_defaults(SourceConfig, kind="local",
                                                                                 path=str(root))}), "train", tmp_path,
               DropCounter())
    drops = DropCounter()
    _build(typed_defaults(DataConfig, name="c", sources={"c": typed_defaults(SourceConfig, kind="local",
                                                                             path=str(root))}, on_error="skip"),
           "train", tmp_path, drops)
    assert drops.as_dict() == {"c": {"zero-length audio": 1}}


def test_truncated_wav_is_counted_as_truncated_audio(tmp_path: Path) -> None:
    full = tmp_path / "full.wav"
    sf.write(full, _tone(1.0, 16000), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    assert sf.info(cut).frames > 0  # libsndfile alone reads what is there without a word
    for check in (audio_duration, lambda ref: load_audio(ref, 16000)):
        with pytest.raises(AudioError, match=r"truncated WAV.*cut\.wav") as caught:
            check(AudioRef(path=str(cut)))
        assert caught.value.reason == "truncated audio"
    assert audio_duration(AudioRef(path=str(full))) == pytest.approx(1.0)
    assert audio_duration(AudioRef(data=full.read_bytes())) == pytest.approx(1.0)
