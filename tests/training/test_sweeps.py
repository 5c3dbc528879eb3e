"""Hydra sweeps through the real CLI: every job its own run dir and summary, a failing job recorded and skipped,
and the Optuna search returning the best validation WER."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from run_helpers import run_cli, tiny_run_overrides

from whisper_exp.scaling.collect import collect_local


def summaries(sweep_dir: Path) -> dict[str, dict]:
    """Job number → summary.json of every job in a sweep dir."""
    return {path.parent.name: json.loads(path.read_text()) for path in sweep_dir.glob("*/summary.json")}


@pytest.mark.slow
def test_lr_by_frozen_layers_sweep_survives_a_failing_job(tmp_path: Path, random_whisper_dir: Path,
                                                          demo_subset: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_cli("-m", "optimizer.lr=1e-5,3e-5", "finetune.frozen_layers=0,2,9",
                   *tiny_run_overrides(random_whisper_dir, demo_subset), f"hydra.sweep.dir={sweep}", cwd=tmp_path,
                   check=False)
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]  # CI and schedulers see the failed jobs
    record = json.loads((sweep / "sweep_summary.json").read_text())
    assert (record["completed"], record["failed"]) == (4, 2) and record["metric"] == "best_val_wer"
    by_job = {job["job"]: job for job in record["jobs"]}
    assert sorted(by_job) == list(range(6))
    assert {job["status"] for job in by_job.values() if "finetune.frozen_layers=9" in job["overrides"]} == {"failed"}
    assert all(job["metric"] is not None for job in by_job.values() if job["status"] == "completed")
    collection = collect_local([sweep / "sweep_summary.json"])  # the scaling reader takes the sweep record
    assert len(collection.runs) == 4 and len(collection.excluded) == 2
    jobs = summaries(sweep)
    assert sorted(jobs) == [str(n) for n in range(6)]  # one run dir and summary per job
    failed = {n: s for n, s in jobs.items() if s["status"] == "failed"}
    assert len(failed) == 2  # frozen_layers=9 on a 2-layer encoder
    for summary in failed.values():
        assert "frozen_layers=9 but this encoder has 2 layers" in summary["error"]
        assert summary["config"]["finetune"]["frozen_layers"] == 9
    completed = [s for s in jobs.values() if s["status"] == "completed"]
    assert {(s["lr"], s["config"]["finetune"]["frozen_layers"]) for s in completed} == {
        (1e-5, 0), (1e-5, 2), (3e-5, 0), (3e-5, 2)}
    trainable = {s["config"]["finetune"]["frozen_layers"]: s["params_trainable"] for s in completed}
    assert trainable[2] < trainable[0]
    assert {s["finetune_mode"] for s in completed} == {"full", "freeze_encoder"}
    assert not (tmp_path / "outputs").exists()  # no stray single-run dirs
    assert "the sweep continues" in done.stdout + done.stderr


@pytest.mark.slow
def test_optuna_search_returns_the_best_validation_wer(tmp_path: Path, random_whisper_dir: Path,
                                                       demo_subset: Path) -> None:
    sweep = tmp_path / "optuna"
    run_cli("hparams_search=whisper_optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2",
            # The whole search space (its keys contain dots); inner quotes: values, not sweeps of this command.
            "hydra.sweeper.params={optimizer.lr:'tag(log, interval(1e-5, 1e-3))',finetune.frozen_layers:'choice(0,1)'}",
            *tiny_run_overrides(random_whisper_dir, demo_subset), f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    jobs = summaries(sweep)
    assert len(jobs) == 2 and all(s["status"] == "completed" for s in jobs.values())
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert result["best_value"] == pytest.approx(min(s["best_val_wer"] for s in jobs.values()))
    assert set(result["best_params"]) == {"optimizer.lr", "finetune.frozen_layers"}
