"""Long-form evaluation (issue 16, item 2): boundary matching, and an evaluation run with eval.long_form on
writes long-form WER, boundary accuracy and hallucination metrics to summary.json and long_form.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whisper_exp.config.schema import ConfigError, validate_config
from whisper_exp.data.long_form import PlacedClip, RecordingPlan
from whisper_exp.long_form import LONG_FORM_FILE, boundary_hits
from whisper_exp.metrics.hallucination import METRICS
from whisper_exp.run import run_evaluation
from whisper_exp.transcribe.backends import Segment

TINY = ["generation.max_new_tokens=4", "logger=csv", "trainer.enable_progress_bar=false", "data.eval_batch_size=4"]
# The 4 test clips of the demo subset (3.6–5.6 s each) make one recording of 8–12 s, plus leftovers.
LONG_FORM = ["eval.long_form.enabled=true", "eval.long_form.min_seconds=8", "eval.long_form.max_seconds=12",
             "eval.long_form.min_gap_seconds=0.3", "eval.long_form.max_gap_seconds=0.6"]


def test_boundary_hits_use_the_gap_and_tolerance() -> None:
    plan = RecordingPlan((PlacedClip(0, 0.0, 4.0), PlacedClip(1, 4.6, 9.0), PlacedClip(2, 9.3, 12.0)))
    assert boundary_hits(plan, [Segment(0.0, 3.6, "a"), Segment(3.6, 12.0, "b c")], 0.5) == [True, False]
    assert boundary_hits(plan, [Segment(0.0, 5.0, "a"), Segment(5.0, 8.7, "b"), Segment(8.7, 12.0, "c")],
                         0.5) == [True, True]
    assert boundary_hits(plan, [Segment(0.0, 12.0, "a b c")], 0.5) == [False, False]


@pytest.mark.slow
def test_evaluation_with_long_form_writes_its_numbers(compose_config, random_whisper_dir: Path, demo_subset: Path,
                                                       tmp_path: Path) -> None:
    cfg = compose_config(f"model.checkpoint={random_whisper_dir}", "data=local", f"data.path={demo_subset}", *TINY,
                         *LONG_FORM, config_name="evaluate")
    summary = run_evaluation(cfg)
    on_disk = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    long_form = on_disk["long_form"]
    assert long_form["recordings"] >= 1 and all(8 <= s <= 12 for s in long_form["recording_seconds"])
    assert long_form["clips"] + long_form["unused_clips"] == 4 and long_form["boundaries"] >= 1
    assert 0 <= long_form["boundary_accuracy"] <= 1 and long_form["wer"] >= 0
    assert long_form["short_form_wer"] is not None  # the test pass's predictions of the same clips
    assert set(on_disk["hallucination"]) == {"val", "test", "long_form"}
    for values in on_disk["hallucination"].values():
        assert set(METRICS) <= set(values)
    assert summary["long_form"]["wer"] == long_form["wer"]
    details = json.loads((Path(cfg.paths.output_dir) / LONG_FORM_FILE).read_text())["recordings"]
    assert len(details) == long_form["recordings"] and details[0]["clips"]
    metrics = (Path(cfg.paths.output_dir) / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert "long_form/boundary_accuracy" in metrics and "test/loop_fraction" in metrics


def test_long_form_is_refused_for_a_family_without_it(compose_config) -> None:
    with pytest.raises(ConfigError, match="eval.long_form.enabled"):
        validate_config(compose_config("model=wav2vec2_base_ctc", "eval.long_form.enabled=true"))


def test_long_form_split_must_be_an_evaluation_set(compose_config) -> None:
    with pytest.raises(ConfigError, match="eval.long_form.split='train'"):
        validate_config(compose_config("eval.long_form.enabled=true", "eval.long_form.split=train"))
    assert validate_config(compose_config("eval.long_form.enabled=true", "eval.long_form.split=validation"))
