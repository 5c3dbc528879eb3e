"""A run whose validation cadence lies beyond its last step still finishes and says so."""

from __future__ import annotations

import json
from pathlib import Path

from whisper_exp.run import run_training


def test_no_validation_during_fit_gives_null_best_val_wer(compose_config, random_whisper_dir: Path,
                                                          demo_subset: Path) -> None:
    cfg = compose_config(f"model.checkpoint={random_whisper_dir}", "data=local", f"data.path={demo_subset}",
                         "logger=none", "trainer.max_steps=1", "trainer.max_epochs=null",
                         "trainer.val_check_interval=50", "trainer.check_val_every_n_epoch=null",
                         "trainer.baseline_eval=false", "trainer.enable_progress_bar=false", "export.enabled=false",
                         "trainer.limit_test_batches=1", "data.batch_size=2", "data.eval_batch_size=2",
                         "generation.max_new_tokens=2")
    run_training(cfg)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["global_steps"] == 1
    assert summary["best_val_wer"] is None and summary["wer"] is not None
    assert summary["first_step_after_s"] > 0
