"""A run whose validation cadence lies beyond its last step still finishes and says so."""

from __future__ import annotations

import json
from pathlib import Path

from run_helpers import tiny_run_overrides

from whisper_exp.run import run_training


def test_no_validation_during_fit_gives_null_best_val_wer(compose_config, random_whisper_dir: Path,
                                                          demo_subset: Path) -> None:
    cfg = compose_config(*tiny_run_overrides(random_whisper_dir, demo_subset, steps=1), "logger=none",
                         "trainer.val_check_interval=50")
    run_training(cfg)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["global_steps"] == 1
    assert summary["best_val_wer"] is None and summary["wer"] is not None
    assert summary["first_step_after_s"] > 0
