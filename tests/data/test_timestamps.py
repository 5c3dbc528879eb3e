"""Timestamp-aware labels (issue 16, item 1): speech bounds from log-mels, timed labels for single clips and
packed windows (their token ids decode to the right times), the label budget, and the seeded choice."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import WhisperFeatureExtractor, WhisperProcessor

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import PackingConfig, TimestampConfig
from whisper_exp.data.features import compute_features
from whisper_exp.data.packing import PackedSplit
from whisper_exp.data.pipeline import SpeechSplit
from whisper_exp.data.speech_bounds import speech_bounds
from whisper_exp.data.timestamps import add_timestamps, chosen_examples
from whisper_exp.families.whisper_labels import WhisperLabeller

RATE = 16_000
FPS = 100.0  # Whisper's log-mel frames per second
GRID = 0.02


def _clip(lead: float, tone: float, tail: float, frequency: float = 440.0) -> np.ndarray:
    """Quiet noise, a tone, quiet noise (seconds)."""
    rng = np.random.default_rng(int(frequency))
    t = np.arange(int(tone * RATE)) / RATE
    parts = [1e-4 * rng.standard_normal(int(lead * RATE)), 0.3 * np.sin(2 * np.pi * frequency * t),
             1e-4 * rng.standard_normal(int(tail * RATE))]
    return np.concatenate(parts).astype(np.float32)


@pytest.fixture(scope="module")
def extractor() -> WhisperFeatureExtractor:
    return WhisperFeatureExtractor()  # Whisper's 80-mel settings, no download


@pytest.fixture(scope="module")
def labeller(tiny_en_processor: WhisperProcessor) -> WhisperLabeller:
    return WhisperLabeller(tiny_en_processor.tokenizer, english_only=True, language=None, task=None)


def _split(extractor: WhisperFeatureExtractor, labeller: WhisperLabeller, clips: list[tuple[np.ndarray, str]]
           ) -> SpeechSplit:
    return SpeechSplit(name="train", ids=[f"c{i}" for i in range(len(clips))], texts=[t for _, t in clips],
                       sources=["s"] * len(clips), durations=[len(a) / RATE for a, _ in clips],
                       labels=[labeller(t) for _, t in clips],
                       in_memory=[compute_features(extractor, a) for a, _ in clips])


def _times(labeller: WhisperLabeller, ids: list[int]) -> list[float]:
    first = labeller.first_time_token
    return [round((i - first) * GRID, 2) for i in ids if first <= i <= first + 1500]


def _settings(probability: float) -> TimestampConfig:
    return typed_defaults(TimestampConfig, probability=probability)


@pytest.mark.parametrize(("lead", "tone", "tail"), [(0.7, 1.5, 1.3), (0.0, 2.0, 0.5), (1.2, 0.6, 0.0)])
def test_speech_bounds_of_silence_tone_silence(extractor: WhisperFeatureExtractor, lead: float, tone: float,
                                               tail: float) -> None:
    frames = compute_features(extractor, _clip(lead, tone, tail))
    start, end = speech_bounds(frames, threshold_db=40.0, frames_per_second=FPS, frame_seconds=0.02)
    assert start == pytest.approx(lead, abs=0.04)
    assert end == pytest.approx(lead + tone, abs=0.04)


def test_a_single_clip_gets_its_speech_start_and_end(extractor, labeller) -> None:
    split = _split(extractor, labeller, [(_clip(0.5, 2.0, 0.8), "hello there")])
    stats = add_timestamps(split, split, labeller.timed, _settings(1.0), seed=0, frames_per_second=FPS,
                           max_label_tokens=448)
    labels = split.labels[0]
    assert stats.timestamped == 1 and labeller.tokenizer.convert_tokens_to_ids("<|notimestamps|>") not in labels
    start, end = _times(labeller, labels)
    assert start == pytest.approx(0.5, abs=0.04) and end == pytest.approx(2.5, abs=0.04)
    text = labeller.tokenizer.decode(labels, decode_with_timestamps=True)
    assert text.startswith(f"<|{start:.2f}|> hello there<|{end:.2f}|>") and labels[-1] == labeller.eos


def test_a_packed_window_gets_one_segment_per_utterance_at_its_offset(extractor, labeller) -> None:
    clips = [(_clip(0.3, 1.5, 0.2, 300), "one two"), (_clip(0.1, 2.0, 0.4, 500), "three"),
             (_clip(0.6, 1.0, 0.1, 700), "four five six")]
    split = _split(extractor, labeller, clips)
    packed = PackedSplit(split, labeller, typed_defaults(PackingConfig, enabled=True, gap_seconds=0.5),
                         max_label_tokens=448, seed=3, frames_per_second=FPS)
    assert len(packed) == 1
    add_timestamps(packed, split, labeller.timed, _settings(1.0), seed=0, frames_per_second=FPS,
                   max_label_tokens=448)
    item = packed[0]
    offset, expected = 0.0, []
    for member in packed.windows[0].members:  # in the order heard (seeded permutation)
        lead, tone = {0: (0.3, 1.5), 1: (0.1, 2.0), 2: (0.6, 1.0)}[member]
        expected += [offset + lead, offset + lead + tone]
        offset += split.frame_count(member) / FPS + 0.5
    assert _times(labeller, item["labels"]) == pytest.approx(expected, abs=0.05)
    decoded = labeller.tokenizer.decode([50257, *item["labels"]], output_offsets=True)["offsets"]
    assert [o["text"].strip() for o in decoded] == [split.texts[m] for m in packed.windows[0].members]
    assert len(item["labels"]) <= 448 and item["features"].shape[0] >= offset * FPS - 60


def test_too_long_timed_labels_keep_notimestamps(extractor, labeller) -> None:
    split = _split(extractor, labeller, [(_clip(0.2, 1.0, 0.2), "a few words here")])
    before = list(split.labels[0])
    stats = add_timestamps(split, split, labeller.timed, _settings(1.0), seed=0, frames_per_second=FPS,
                           max_label_tokens=len(before))  # timed labels are one token longer
    assert (stats.timestamped, stats.too_long) == (0, 1) and split.labels[0] == before


def test_probability_zero_one_and_seeded_choice() -> None:
    assert chosen_examples(500, 0.0, 1).size == 0
    assert chosen_examples(500, 1.0, 1).tolist() == list(range(500))
    first, again, other = chosen_examples(2000, 0.2, 7), chosen_examples(2000, 0.2, 7), chosen_examples(2000, 0.2, 8)
    assert first.tolist() == again.tolist() and first.tolist() != other.tolist()
    assert 0.17 < first.size / 2000 < 0.23


def test_time_tokens_follow_the_grid(labeller) -> None:
    assert labeller.tokenizer.convert_ids_to_tokens(labeller.time_token(1.234)) == "<|1.24|>"
    assert labeller.time_token(30.0) - labeller.time_token(0.0) == 1500
    with pytest.raises(ValueError, match="outside"):
        labeller.time_token(-0.5)
