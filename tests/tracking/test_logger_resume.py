"""Resuming in the same run dir continues the CSV metrics and the W&B run (issue 18)."""

from __future__ import annotations

import csv
from pathlib import Path

from whisper_exp.tracking.loggers import AppendingCSVLogger, wandb_run_id


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_csv_metrics_are_continued_not_replaced_on_resume(tmp_path: Path) -> None:
    first = AppendingCSVLogger(save_dir=str(tmp_path))
    for step in range(6):
        first.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
    # Killed here: every row is already on disk (written each step).
    assert [int(r["step"]) for r in _rows(tmp_path)] == list(range(6))
    resumed = AppendingCSVLogger(save_dir=str(tmp_path))  # resumed from the step-4 checkpoint
    for step in range(4, 8):
        resumed.log_metrics({"train/loss": 2.0, **({"val/wer": 0.5} if step == 7 else {})}, step=step)
    resumed.save()
    rows = _rows(tmp_path)
    assert [int(r["step"]) for r in rows] == list(range(8))  # steps 4 and 5 once, from the resumed run
    assert [float(r["train/loss"]) for r in rows[4:]] == [2.0] * 4 and rows[0]["train/loss"] == "1.0"
    assert rows[-1]["val/wer"] == "0.5" and rows[0]["val/wer"] == ""


def test_wandb_run_id_is_kept_per_run_dir(tmp_path: Path) -> None:
    run_id = wandb_run_id(tmp_path / "run")
    assert wandb_run_id(tmp_path / "run") == run_id and wandb_run_id(tmp_path / "other") != run_id
