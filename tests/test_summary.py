"""RunSummary: the one typed record of a run — written by run.py, read back by scaling and the W&B tables."""

from __future__ import annotations

import json
from pathlib import Path

from whisper_exp.scaling.collect import collect_local
from whisper_exp.scaling.records import RunRecord, record_from_summary
from whisper_exp.summary import RunSummary, read_summary, write_summary
from whisper_exp.tracking.wandb_tables import COMPARISON_KEYS, comparison_values

OLD_SUMMARIES = Path(__file__).resolve().parents[1] / "experiments" / "demo_scaling" / "summaries"


def test_summaries_written_before_the_type_round_trip_unchanged(tmp_path: Path) -> None:
    files = sorted(OLD_SUMMARIES.rglob("summary.json"))
    assert len(files) == 11
    for path in files:
        raw = json.loads(path.read_text())
        typed = RunSummary.from_dict(raw)
        assert typed.as_dict() == raw and list(typed.as_dict()) != [] and not typed.extra, path
        write_summary(tmp_path, typed)
        assert read_summary(tmp_path) == raw


def test_the_scaling_reader_reads_the_old_summaries_through_the_type() -> None:
    collection = collect_local([OLD_SUMMARIES])
    assert not collection.excluded
    assert len(collection.training) == 10 and len(collection.zero_shot) == 1
    for run in collection.training:
        assert isinstance(run, RunRecord) and run.model == "tiny.en" and run.train_samples > 0
        assert run.test_wer is not None and run.global_steps and run.params == 39_000_000
    raw = json.loads(next(OLD_SUMMARIES.rglob("summary.json")).read_text())
    assert record_from_summary(raw, "a", "local") == record_from_summary(RunSummary.from_dict(raw), "a", "local")


def test_unset_fields_are_not_written_and_unknown_keys_are_kept() -> None:
    summary = RunSummary(wer=0.1, best_val_wer=None).update({"eval_sets": {"fleurs": 0.2}}, seed=3)
    assert summary.as_dict() == {"seed": 3, "wer": 0.1, "best_val_wer": None, "eval_sets": {"fleurs": 0.2}}
    assert summary.has("best_val_wer") and not summary.has("global_steps") and summary.get("global_steps", 7) == 7
    assert comparison_values(summary) == {"seed": 3, "wer": 0.1}
    assert {"wer", "best_val_wer", "baseline_wer", "train_hours", "params_total", "lr"} <= set(COMPARISON_KEYS)
