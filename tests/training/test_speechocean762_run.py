"""data=speechocean762 through the real CLI: a 2-step fit of a tiny random Whisper on 16 utterances, with WER by
age group, speaker-bootstrap intervals and the forgetting guard on ../shared/data/real_speech; and evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_helpers import REPO, run_cli

SPEECHOCEAN = REPO / ".." / "shared" / "data" / "speechocean762"
REAL_SPEECH = REPO / ".." / "shared" / "data" / "real_speech"
TINY = ["generation.max_new_tokens=4", "logger=csv", "trainer.enable_progress_bar=false", "export.enabled=false",
        "data.batch_size=4", "data.eval_batch_size=4", "data.validation_samples=8", "data.test_samples=8",
        "eval.group_by=[age_group,gender]", "eval.bootstrap_resamples=200"]
REAL_SPEECH_SET = ("+eval.extra_sets.real_speech={kind: manifest, path: " + str(REAL_SPEECH)
                   + ", audio_column: file_name, text_column: transcription, splits: {test: metadata.csv}}")


def _need_corpora() -> None:
    for path in (SPEECHOCEAN / "train" / "wav.scp", REAL_SPEECH / "metadata.csv"):
        if not path.is_file():
            pytest.skip(f"{path.resolve()} not found: the shared corpora live in ../shared/data beside the repo")


@pytest.mark.slow
def test_fit_on_16_utterances_reports_groups_intervals_and_the_forgetting_guard(
        random_whisper_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    _need_corpora()
    run_dir = tmp_path / "run"
    run_cli(f"model.checkpoint={random_whisper_dir}", "data=speechocean762", f"data.root={SPEECHOCEAN}",
            "data.train_samples=16", "trainer.max_steps=2", "trainer.max_epochs=null", "trainer.val_check_interval=2",
            "trainer.check_val_every_n_epoch=null", "trainer.baseline_eval=true", REAL_SPEECH_SET, *TINY,
            f"paths.output_dir={run_dir}", f"paths.cache_dir={cache_dir}", cwd=tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["train_samples"] == 16 and summary["global_steps"] == 2
    assert set(summary["wer_by_set"]) == {"test", "real_speech"}
    assert set(summary["baseline_wer_by_set"]) == {"validation", "real_speech"}
    guard = summary["extra_sets"]["real_speech"]
    assert guard["change"] == pytest.approx(guard["final"] - guard["zero_shot"])
    low, high = summary["wer_interval"]
    assert low <= summary["wer"] <= high
    ages = summary["wer_by_group"]["age_group"]
    assert set(ages) <= {"child", "teen", "adult"} and sum(g["utterances"] for g in ages.values()) == 8
    assert set(summary["wer_by_group"]["gender"]) <= {"m", "f"}
    metrics = (run_dir / "csv").rglob("metrics.csv")
    header = next(iter(metrics)).read_text().splitlines()[0]
    assert "test/wer_low" in header and "test/wer_by_age_group/" in header
    assert "time/train_s" in header  # training seconds beside each val/wer: time-to-quality


@pytest.mark.slow
def test_evaluate_scores_the_carved_test_split(random_whisper_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    _need_corpora()
    run_dir = tmp_path / "eval"
    done = run_cli(f"model.checkpoint={random_whisper_dir}", "data=speechocean762", f"data.root={SPEECHOCEAN}", *TINY,
                   f"paths.output_dir={run_dir}", f"paths.cache_dir={cache_dir}", cwd=tmp_path,
                   module="whisper_exp.evaluate")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "scoring: validation, test" in done.stdout
    assert summary["test_utterances"] == 8 and len(summary["wer_interval"]) == 2
    assert summary["val_breakdown"]["overall"]["utterances"] == 8
