"""Helpers for the training tests: overrides for a tiny run, and running the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBES_DIR = Path(__file__).resolve().parent  # probes.py: test callbacks named by `_target_` in overrides


def tiny_run_overrides(model_dir: Path, corpus: Path, steps: int = 2) -> list[str]:
    """A few optimiser steps of a tiny random Whisper on `corpus`, validated once at the end, no baseline/export."""
    return [f"model.checkpoint={model_dir}", "data=local", f"data.path={corpus}", "generation.max_new_tokens=4",
            "logger=csv", f"trainer.max_steps={steps}", "trainer.max_epochs=null",
            f"trainer.val_check_interval={steps}",
            "trainer.check_val_every_n_epoch=null", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
            "trainer.enable_progress_bar=false", "trainer.baseline_eval=false", "export.enabled=false",
            "trainer.log_every_n_steps=1", "data.batch_size=2", "data.eval_batch_size=2"]


def cli_env() -> dict[str, str]:
    """The environment for CLI subprocesses: probes importable, one torch thread per process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROBES_DIR), env.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_cli(*overrides: str, cwd: Path, module: str = "whisper_exp", check: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m whisper_exp OVERRIDES…` in `cwd`; asserts success unless check=False."""
    done = subprocess.run([sys.executable, "-m", module, *overrides], cwd=cwd, capture_output=True, text=True,
                          env=cli_env(), timeout=timeout, check=False)
    if check:
        assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    return done
