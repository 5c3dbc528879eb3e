"""A 10-step run SIGKILLed at random steps several times in a row, resumed each time in the same run dir,
ends exactly like one uninterrupted run: same final step, LR trajectory and losses, one metrics.csv holding
every step once (issue 18). The kill steps are drawn from WHISPER_EXP_FAULT_SEED (default 18) and printed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from run_helpers import cli_env, tiny_run_overrides
from test_resume_and_signals import step_metrics

from whisper_exp.run import run_training
from whisper_exp.summary import read_summary

STEPS = 10  # 8 clips in batches of 2: two and a half epochs, so kills land in different epochs
KILLS = 3


@pytest.mark.slow
def test_repeated_kills_and_resumes_match_an_uninterrupted_run(tmp_path: Path, compose_config,
                                                                random_whisper_dir: Path, demo_subset: Path) -> None:
    overrides = [*tiny_run_overrides(random_whisper_dir, demo_subset, steps=STEPS),
                 "trainer.checkpoint_every_n_steps=1"]
    run_training(compose_config(*overrides, f"paths.output_dir={tmp_path / 'reference'}"))
    reference = read_summary(tmp_path / "reference")

    seed = int(os.environ.get("WHISPER_EXP_FAULT_SEED", "18"))
    kill_steps = sorted(random.Random(seed).sample(range(1, STEPS), KILLS))
    print(f"fault seed {seed}: kill at steps {kill_steps}")
    run_dir = tmp_path / "killed"
    last = run_dir / "checkpoints" / "last.ckpt"
    for attempt, step in enumerate([*kill_steps, None]):
        extra = [f"trainer.resume={run_dir}"] if attempt else []  # a run dir: its own checkpoints/last.ckpt
        if step is not None:
            extra.append(f"trainer.extra_callbacks=[{{_target_:probes.KillAt,step:{step}}}]")
        done = subprocess.run([sys.executable, "-m", "whisper_exp", *overrides, *extra, f"hydra.run.dir={run_dir}"],
                              cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=300, check=False)
        if step is None:
            assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
            break
        assert done.returncode == -signal.SIGKILL, (done.stdout + done.stderr)[-4000:]
        assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == step
        assert not (run_dir / "summary.json").exists()

    resumed = read_summary(run_dir)
    assert resumed["status"] == "completed" and resumed["resumed_from"] == str(last)
    assert resumed["global_steps"] == reference["global_steps"] == STEPS
    expected, got = step_metrics(tmp_path / "reference"), step_metrics(run_dir)
    trained = [step for step in sorted(expected) if "lr" in expected[step]]
    assert len(trained) == STEPS and sorted(s for s in got if "lr" in got[s]) == trained  # every step once
    for step in trained:
        assert got[step]["lr"] == pytest.approx(expected[step]["lr"], rel=1e-9), step
        assert got[step]["loss"] == pytest.approx(expected[step]["loss"], rel=1e-4), step
    assert resumed["wer"] == pytest.approx(reference["wer"])
