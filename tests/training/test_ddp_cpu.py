"""Real DDP: two CPU processes (gloo) inside a Hydra multirun, with frozen encoder layers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_helpers import run_cli, tiny_run_overrides


@pytest.mark.slow
def test_two_ranks_see_different_samples_keep_identical_weights_and_share_one_run_dir(
        tmp_path: Path, random_whisper_dir: Path, demo_subset: Path) -> None:
    probe_dir, sweep = tmp_path / "probe", tmp_path / "sweep"
    run_cli("-m", "strategy=ddp", "strategy.accelerator=cpu", "strategy.devices=2", "finetune.frozen_layers=1",
            "optimizer.lr=1e-3", *tiny_run_overrides(random_whisper_dir, demo_subset, steps=2),
            f"hydra.sweep.dir={sweep}", f"trainer.extra_callbacks=[{{_target_:probes.RankProbe,out_dir:{probe_dir}}}]",
            cwd=tmp_path)
    ranks = [json.loads((probe_dir / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert ranks[0]["pid"] != ranks[1]["pid"] and {r["world_size"] for r in ranks} == {2}
    assert len(ranks[0]["batches"]) == len(ranks[1]["batches"]) == 2
    for step in range(2):
        assert not set(ranks[0]["batches"][step]) & set(ranks[1]["batches"][step])  # different samples
        assert ranks[0]["digests"][step] == ranks[1]["digests"][step]  # identical weights after the step
    assert ranks[0]["digests"][-1] != ranks[0]["initial"]  # and they did change

    # One job dir, one summary, one log file: the child process did not start a sweep or a run dir of its own.
    assert [p.name for p in sweep.iterdir() if p.is_dir()] == ["0"]
    summary = json.loads((sweep / "0" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["global_steps"] == 2
    assert summary["train_samples_seen"] == 2 * 2 * 2  # steps × ranks × batch size
    assert summary["params_frozen"] > 0
    assert not (tmp_path / "outputs").exists()
    assert sorted(p.name for p in tmp_path.rglob("*.log")) == ["__main__.log"]
