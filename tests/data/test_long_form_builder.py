"""Long-form recordings (issue 16, item 2): durations within bounds, consecutive clips, gaps, exact boundaries,
seeded; the audio holds each clip where the plan says."""

from __future__ import annotations

import numpy as np
import pytest

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import LongFormConfig
from whisper_exp.data.long_form import PlacedClip, RecordingPlan, build_recording, plan_recordings


def _settings(**values: object) -> LongFormConfig:
    return typed_defaults(LongFormConfig, enabled=True, **values)


def test_plans_are_consecutive_within_bounds_and_seeded() -> None:
    durations = np.random.default_rng(0).uniform(2.0, 9.0, size=200).tolist()
    settings = _settings(min_seconds=120.0, max_seconds=300.0, min_gap_seconds=0.2, max_gap_seconds=1.0, seed=5)
    plans, unused = plan_recordings(durations, settings)
    assert len(plans) >= 2
    used = [p.clip for plan in plans for p in plan.clips]
    assert used == list(range(len(used))) and len(used) + unused == len(durations)  # consecutive, in order
    for plan in plans:
        assert 120.0 <= plan.seconds <= 300.0
        assert plan.clips[0].start == 0.0
        for placed in plan.clips:
            assert placed.end - placed.start == pytest.approx(durations[placed.clip])
        for end, start in plan.boundaries():
            assert 0.2 <= start - end <= 1.0
        assert len(plan.boundaries()) == len(plan.clips) - 1
    again, _ = plan_recordings(durations, settings)
    other, _ = plan_recordings(durations, _settings(min_seconds=120.0, max_seconds=300.0, seed=6))
    assert again == plans and other != plans
    # the targets differ between recordings (drawn), so lengths are not all alike
    assert len({round(plan.seconds) for plan in plans}) > 1


def test_leftover_clips_too_short_for_a_recording_are_counted() -> None:
    plans, unused = plan_recordings([5.0] * 11, _settings(min_seconds=20.0, max_seconds=24.0, min_gap_seconds=0.5,
                                                          max_gap_seconds=0.5))
    assert [len(p.clips) for p in plans] == [4, 4] and unused == 3
    assert plans[0].boundaries() == [(5.0, 5.5), (10.5, 11.0), (16.0, 16.5)]


def test_recording_audio_and_reference() -> None:
    plan = RecordingPlan((PlacedClip(0, 0.0, 1.0), PlacedClip(1, 1.5, 2.0)))
    clips = [np.full(16, 1.0, dtype=np.float32), np.full(8, 2.0, dtype=np.float32)]
    recording = build_recording(plan, clips.__getitem__, ["hello  world", "again"], sampling_rate=16)
    assert recording.reference == "hello world again"
    audio = recording.audio
    assert (audio[:16] == 1.0).all() and (audio[16:24] == 0.0).all() and (audio[24:32] == 2.0).all()

