"""Timestamp-aware training labels: a seeded fraction of training examples gets timed segments.

Whisper was pretrained to predict when each segment starts and ends; fine-tuned only on <|notimestamps|>
labels it forgets, and long-form decoding, which seeks by those timestamps, degrades (README "Timestamps and
long-form"). With ``data.timestamps.probability=p`` a fraction p of the training examples — single clips, or
30-s packed windows (data.packing) — is relabelled once, when the training data is prepared:

* which examples: `numpy.random.default_rng(seed)` draws one number per example in dataset order, so the same
  seed and data give the same examples (and the labels are computed once; nothing is re-drawn per epoch);
* each utterance of an example is one segment: from its speech start to its speech end (data.speech_bounds on
  its stored log-mels), shifted by its offset in the window (a packed window knows where each clip was put);
  silence inside a clip is assumed to be part of its utterance (a clip is never split into several segments);
* an example whose timed labels would exceed the model's label budget (model.max_target_positions) keeps its
  <|notimestamps|> labels and is counted (`too_long`).

The model family turns timed segments into label ids (a `TimedLabeller`, e.g. Whisper's time tokens); a family
without one ignores the option. Evaluation labels are never changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from whisper_exp.config.schema import TimestampConfig
from whisper_exp.data.speech_bounds import speech_bounds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimedText:
    """One segment of a training example: text and its start/end in seconds from the example's start."""

    start: float
    end: float
    text: str


# Timed segments → label ids (the family's; Whisper: WhisperLabeller.timed).
TimedLabeller = Callable[[Sequence[TimedText]], list[int]]


@dataclass(frozen=True)
class Placement:
    """Where one utterance (an index into the prepared split) sits in a training example, in feature frames."""

    member: int
    offset_frames: int


class Relabelable(Protocol):
    """A training dataset whose examples are made of placed utterances (SpeechSplit, PackedSplit)."""

    def __len__(self) -> int: ...

    def layout(self, index: int) -> list[Placement]:
        """The utterances of example `index`, in the order heard."""
        ...

    def set_labels(self, index: int, labels: list[int]) -> None:
        """Replace the label ids of example `index`."""
        ...


class UtteranceSource(Protocol):
    """Stored features and transcripts of a prepared split's utterances."""

    texts: list[str]

    def features(self, index: int) -> np.ndarray: ...


@dataclass
class TimestampStats:
    """How many training examples were relabelled (summary.json `timestamp_labels`)."""

    examples: int = 0
    timestamped: int = 0
    too_long: int = 0

    def as_dict(self) -> dict[str, int]:
        """Plain dict for summary.json."""
        return asdict(self)


def chosen_examples(count: int, probability: float, seed: int) -> np.ndarray:
    """Indices of the examples to label with timestamps: one seeded draw per example, in order."""
    return np.flatnonzero(np.random.default_rng(seed).random(count) < probability)


def timed_segments(layout: Sequence[Placement], utterances: UtteranceSource, settings: TimestampConfig,
                   frames_per_second: float) -> list[TimedText]:
    """One segment per placed utterance: its speech bounds shifted by its offset in the example."""
    segments = []
    for placed in layout:
        start, end = speech_bounds(utterances.features(placed.member), threshold_db=settings.threshold_db,
                                   frames_per_second=frames_per_second, frame_seconds=settings.frame_seconds)
        offset = placed.offset_frames / frames_per_second
        segments.append(TimedText(offset + start, offset + end, utterances.texts[placed.member]))
    return segments


def add_timestamps(dataset: Relabelable, utterances: UtteranceSource, labeller: TimedLabeller,
                   settings: TimestampConfig, *, seed: int, frames_per_second: float,
                   max_label_tokens: int) -> TimestampStats:
    """Relabel the chosen examples of `dataset` in place with timed segments (see module doc)."""
    stats = TimestampStats(examples=len(dataset))
    for index in chosen_examples(len(dataset), settings.probability, seed):
        labels = labeller(timed_segments(dataset.layout(int(index)), utterances, settings, frames_per_second))
        if len(labels) > max_label_tokens:
            stats.too_long += 1
            continue
        dataset.set_labels(int(index), labels)
        stats.timestamped += 1
    log.info("timestamps: %d of %d training examples labelled with timestamp tokens (probability %.2f; %d kept "
             "<|notimestamps|>, over %d label tokens with timestamps)", stats.timestamped, stats.examples,
             settings.probability, stats.too_long, max_label_tokens)
    return stats
