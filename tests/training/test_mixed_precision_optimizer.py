"""Fused AdamW where Lightning allows it; foreach under mixed precision with gradient clipping (Lightning
refuses to clip for optimisers that unscale inside `step`), so `experiment=demo`-style runs still train."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_helpers import tiny_run_overrides

from whisper_exp.run import run_training


@pytest.mark.parametrize(("precision", "clip", "fused"), [("bf16-mixed", 1.0, False), ("32-true", 1.0, True),
                                                         ("bf16-mixed", 0.0, True)])
def test_optimizer_kind_follows_precision_and_clipping(compose_config, random_whisper_dir: Path, demo_subset: Path,
                                                      precision: str, clip: float, fused: bool,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    cfg = compose_config(*tiny_run_overrides(random_whisper_dir, demo_subset, steps=2), "logger=none",
                         f"trainer.precision={precision}", f"trainer.gradient_clip_val={clip}")
    with caplog.at_level("INFO", logger="whisper_exp.training.optim"):
        run_training(cfg)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["global_steps"] == 2
    assert ("foreach instead of fused" in caplog.text) is not fused
