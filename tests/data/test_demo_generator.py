"""Tests for the embedded ``demo_sg`` data set and its generator.

Only the last test needs espeak-ng; it is skipped where espeak-ng is missing (as in CI).
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tools.demo_corpus import generator as gen  # the generator is a tool of the repository, not of the package
from tools.demo_corpus.sentences import (
    MAX_WORDS,
    MIN_WORDS,
    generate_sentences,
    normalise_text,
    number_to_words,
    ordinal_to_words,
)

DATA_DIR = gen.DEFAULT_OUT
MIN_COUNTS = {"train": 400, "validation": 80, "test": 80}
ENGLISH_PREFIX = "en"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    """The committed metadata.csv as a list of dicts."""
    with (DATA_DIR / "metadata.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_metadata_columns() -> None:
    with (DATA_DIR / "metadata.csv").open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == list(gen.METADATA_COLUMNS)
    assert {"file_name", "transcription", "split", "speaker", "voice"} <= set(header)


def test_split_counts(rows: list[dict[str, str]]) -> None:
    counts = Counter(r["split"] for r in rows)
    assert set(counts) == set(MIN_COUNTS)
    for split, minimum in MIN_COUNTS.items():
        assert counts[split] >= minimum, f"{split}: {counts[split]} < {minimum}"


def test_files_live_in_their_split_folder(rows: list[dict[str, str]]) -> None:
    for r in rows:
        assert r["file_name"].startswith(r["split"] + "/"), r["file_name"]
    assert len({r["file_name"] for r in rows}) == len(rows)


def test_no_heldout_text_in_train(rows: list[dict[str, str]]) -> None:
    train = {normalise_text(r["transcription"]) for r in rows if r["split"] == "train"}
    validation = {normalise_text(r["transcription"]) for r in rows if r["split"] == "validation"}
    test = {normalise_text(r["transcription"]) for r in rows if r["split"] == "test"}
    assert not (test & train)
    assert not (validation & train)
    assert not (validation & test)


def test_splits_share_vocabulary(rows: list[dict[str, str]]) -> None:
    def words(split: str) -> list[str]:
        return [w for r in rows if r["split"] == split for w in normalise_text(r["transcription"]).split()]

    train_words = set(words("train"))
    test_words = words("test")
    covered = sum(w in train_words for w in test_words) / len(test_words)
    assert covered > 0.95


def test_voices_and_speakers(rows: list[dict[str, str]]) -> None:
    voices = {r["voice"].split("+")[0] for r in rows}
    assert len(voices) >= 4
    assert any(not v.startswith(ENGLISH_PREFIX) for v in voices), "need a non-English voice reading English"
    assert "ms" not in voices, "the Malay voice reading English is unintelligible"
    speakers = {s.name for s in gen.SPEAKERS}
    for split in MIN_COUNTS:
        assert {r["speaker"] for r in rows if r["split"] == split} == speakers, split


def test_audio_files(rows: list[dict[str, str]]) -> None:
    for r in rows:
        path = DATA_DIR / r["file_name"]
        assert path.is_file(), path
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
        assert sr == gen.SAMPLE_RATE, path
        assert audio.shape[1] == 1, path
        seconds = len(audio) / sr
        assert 0.5 <= seconds <= 30.0, (path, seconds)
        rms = float(np.sqrt(np.mean(audio**2)))
        assert rms > 0.01, (path, rms)
        assert float(np.max(np.abs(audio))) <= 1.0, path
        words = len(normalise_text(r["transcription"]).split())
        assert 0.2 <= seconds / words <= 0.8, (path, seconds / words)


def test_total_size_under_limit() -> None:
    size = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert size <= 30 * 1024 * 1024, f"demo_sg is {size / 1e6:.1f} MB"


def test_readme_present() -> None:
    text = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert "synthetic" in text.lower()
    assert "tools/demo_corpus/generator.py" in text


def test_sentence_generator_is_deterministic() -> None:
    first = generate_sentences(60, seed=3)
    assert first == generate_sentences(60, seed=3)
    assert first != generate_sentences(60, seed=4)
    assert len({normalise_text(s) for s in first}) == 60
    for s in first:
        assert MIN_WORDS <= len(normalise_text(s).split()) <= MAX_WORDS
        assert not any(ch.isdigit() for ch in s), s


def test_plan_is_deterministic_and_matches_committed_data(rows: list[dict[str, str]]) -> None:
    plan = gen.plan_clips(seed=0)
    assert plan == gen.plan_clips(seed=0)
    assert [(c.file_name, c.text, c.split, c.speaker.name, c.speaker.espeak_voice) for c in plan] == [
        (r["file_name"], r["transcription"], r["split"], r["speaker"], r["voice"]) for r in rows
    ]


def test_number_words() -> None:
    assert number_to_words(0) == "zero"
    assert number_to_words(25) == "twenty five"
    assert number_to_words(412) == "four hundred and twelve"
    assert number_to_words(1200) == "one thousand two hundred"
    assert ordinal_to_words(3) == "third"
    assert ordinal_to_words(20) == "twentieth"
    assert ordinal_to_words(22) == "twenty second"


def test_normalise_text() -> None:
    assert normalise_text("Can or not, Uncle?  Four o'clock lah!") == "can or not uncle four oclock lah"


def test_set_ogg_serial_keeps_audio(tmp_path: Path) -> None:
    audio = (0.5 * np.sin(np.arange(8000) / 5.0)).astype(np.float32)
    path = tmp_path / "tone.ogg"
    gen.write_audio(path, audio)
    data = path.read_bytes()
    assert data.count(b"OggS") >= 2
    assert data[14:18] == gen.OGG_SERIAL.to_bytes(4, "little")
    assert gen.set_ogg_serial(data, gen.OGG_SERIAL) == data
    changed = gen.set_ogg_serial(data, 1234)
    other = tmp_path / "other.ogg"
    other.write_bytes(changed)
    np.testing.assert_array_equal(sf.read(other, dtype="float32")[0], sf.read(path, dtype="float32")[0])


def test_missing_espeak_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen.shutil, "which", lambda _name: None)
    with pytest.raises(SystemExit, match="apt-get install espeak-ng"):
        gen.require_espeak()


def test_postprocess_resamples_trims_and_normalises() -> None:
    sr = 22_050
    t = np.arange(sr) / sr
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    audio = np.concatenate([np.zeros(sr), tone, np.zeros(sr)]).astype(np.float32)
    out = gen.postprocess(audio, sr)
    assert out.dtype == np.float32
    assert abs(float(np.max(np.abs(out))) - gen.PEAK_LEVEL) < 1e-3
    assert 1.0 <= len(out) / gen.SAMPLE_RATE <= 1.0 + sum(gen.TRIM_PAD_S) + 0.05


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)"
)
def test_regenerated_clips_match_committed(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    espeak = gen.require_espeak()
    plan = gen.plan_clips(seed=0)
    for clip in plan[:: len(plan) // 5][:5]:
        fresh = gen.synthesise(clip.text, clip.speaker, clip.pitch, clip.rate, espeak, tmp_path)
        committed, sr = sf.read(DATA_DIR / clip.file_name, dtype="float32")
        assert sr == gen.SAMPLE_RATE
        # Lossy encoding and espeak-ng versions may differ slightly: compare lengths only.
        assert abs(len(fresh) - len(committed)) / gen.SAMPLE_RATE < 0.5, clip.file_name
