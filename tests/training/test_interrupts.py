"""Ctrl+C / SIGTERM through the real CLI: one line (signal, step, checkpoint, the exact resume command), exit code
128 + signal number, no traceback — and the printed command really resumes the run."""

from __future__ import annotations

import shlex
import signal
from pathlib import Path

import pytest
import torch
from run_helpers import run_cli, tiny_run_overrides

from whisper_exp.summary import read_summary

STEPS = 4


def _last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


@pytest.mark.slow
def test_sigterm_during_training_prints_the_resume_command_which_resumes(tmp_path: Path, random_whisper_dir: Path,
                                                                         demo_subset: Path) -> None:
    run_dir = tmp_path / "stopped"
    overrides = tiny_run_overrides(random_whisper_dir, demo_subset, steps=STEPS)
    sender = f"trainer.extra_callbacks=[{{_target_:probes.SignalAt,step:2,signum:{int(signal.SIGTERM)}}}]"
    done = run_cli(*overrides, sender, f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert done.returncode == 128 + signal.SIGTERM == 143, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    last = run_dir / "checkpoints" / "last.ckpt"
    line = _last_line(done.stderr)
    assert line.startswith(f"Stopped by SIGTERM at step 3; checkpoint saved: {last}; resume with: ")
    assert " python -m whisper_exp " in line
    command = shlex.split(line.split("resume with: ", 1)[1])
    assert command[-1] == f"trainer.resume={last}" and sender in command  # the run's own overrides, resume added

    # The printed command, as a user would paste it (into another run dir so both summaries stay).
    resumed_dir = tmp_path / "resumed"
    resumed = run_cli(*command[3:], f"hydra.run.dir={resumed_dir}", cwd=tmp_path, check=False)
    # The copied SignalAt fires at step 2 only, which the resumed run has passed: it completes.
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = read_summary(resumed_dir)
    assert summary["status"] == "completed" and summary["resumed_from"] == str(last)
    assert summary["global_steps"] == STEPS
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 3


def test_ctrl_c_outside_training_stops_at_once_with_one_line(tmp_path: Path, random_whisper_dir: Path,
                                                             demo_subset: Path) -> None:
    run_dir = tmp_path / "baseline"
    sender = f"trainer.extra_callbacks=[{{_target_:probes.SignalAtValidation,signum:{int(signal.SIGINT)}}}]"
    done = run_cli(*tiny_run_overrides(random_whisper_dir, demo_subset), "trainer.baseline_eval=true", sender,
                   f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert done.returncode == 128 + signal.SIGINT == 130, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert _last_line(done.stderr).startswith("Stopped by SIGINT (no checkpoint written at this point of the run)")
    summary = read_summary(run_dir)
    assert summary["status"] == "interrupted" and "resume_with" not in summary
    assert not (run_dir / "checkpoints" / "last.ckpt").exists()
