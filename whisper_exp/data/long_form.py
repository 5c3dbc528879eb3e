"""Long-form recordings built from consecutive evaluation clips (eval.long_form).

Clips are taken in the set's order; each recording gets a target length drawn uniformly from
[min_seconds, max_seconds] and takes clips, with a gap of silence drawn from [min_gap_seconds, max_gap_seconds]
between two clips, until the next clip would pass its target (or max_seconds). All draws come from one
`numpy.random.default_rng(seed)`, so a seed gives the same recordings. Clips left at the end that cannot make a
recording of min_seconds are not used (counted in `unused_clips`). Each recording knows where every clip is,
so true clip boundaries and the references of the clips it holds are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from whisper_exp.config.schema import LongFormConfig


@dataclass(frozen=True)
class PlacedClip:
    """One clip in a recording: its index in the evaluation set and its start/end in seconds."""

    clip: int
    start: float
    end: float


@dataclass(frozen=True)
class RecordingPlan:
    """The clips of one recording, in order, and its length in seconds."""

    clips: tuple[PlacedClip, ...]

    @property
    def seconds(self) -> float:
        """Length of the recording (it ends with its last clip)."""
        return self.clips[-1].end

    def boundaries(self) -> list[tuple[float, float]]:
        """Each true boundary between two consecutive clips: (end of one, start of the next)."""
        return [(a.end, b.start) for a, b in zip(self.clips, self.clips[1:], strict=False)]


@dataclass
class Recording:
    """A built recording: its audio, its plan, and the joined reference of its clips."""

    audio: np.ndarray
    plan: RecordingPlan
    reference: str


def plan_recordings(durations: Sequence[float], settings: LongFormConfig) -> tuple[list[RecordingPlan], int]:
    """Recordings of consecutive clips of `durations` (seconds) and how many clips at the end were left out."""
    rng = np.random.default_rng(settings.seed)
    plans: list[RecordingPlan] = []
    index = 0
    while index < len(durations):
        target = rng.uniform(settings.min_seconds, settings.max_seconds)
        placed: list[PlacedClip] = []
        now = 0.0
        while index < len(durations):
            gap = rng.uniform(settings.min_gap_seconds, settings.max_gap_seconds) if placed else 0.0
            end = now + gap + durations[index]
            if placed and (end > settings.max_seconds or (end > target and now >= settings.min_seconds)):
                break
            placed.append(PlacedClip(index, now + gap, end))
            now = end
            index += 1
        if now < settings.min_seconds or now > settings.max_seconds:
            if index >= len(durations):
                return plans, len(placed)
            raise ValueError(f"eval.long_form: cannot build a recording of {settings.min_seconds:g}–"
                             f"{settings.max_seconds:g} s from clip {placed[0].clip} on (it ends at {now:.1f} s): "
                             "widen eval.long_form.min_seconds..max_seconds")
        plans.append(RecordingPlan(tuple(placed)))
    return plans, 0


def build_recording(plan: RecordingPlan, load: Callable[[int], np.ndarray], texts: Sequence[str],
                    sampling_rate: int) -> Recording:
    """The audio of `plan` (clips from `load(index)`, silence between them) and its joined reference."""
    audio = np.zeros(round(plan.seconds * sampling_rate) + 1, dtype=np.float32)
    for placed in plan.clips:
        clip = load(placed.clip)
        start = round(placed.start * sampling_rate)
        audio[start:start + len(clip)] = clip[: len(audio) - start]
    reference = " ".join(" ".join(texts[placed.clip].split()) for placed in plan.clips)
    return Recording(audio=audio, plan=plan, reference=reference)
