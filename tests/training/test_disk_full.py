"""Disk full at a checkpoint: a clear error (bytes needed / free / path), the previous checkpoint kept, a partial
summary with the true counts, and a resume command that works (issue 18, item 5).

Only the free-space query (shutil.disk_usage) is replaced; the checkpoint writing and checking is the real one."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import torch
from run_helpers import tiny_run_overrides

from whisper_exp.run import run_training
from whisper_exp.training import checkpoints
from whisper_exp.training.checkpoints import DiskSpaceError, resume_command


def test_disk_full_keeps_the_last_checkpoint_and_resumes(compose_config, random_whisper_dir: Path,
                                                         demo_subset: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    overrides = [*tiny_run_overrides(random_whisper_dir, demo_subset, steps=3), "logger=none",
                 "trainer.checkpoint_every_n_steps=1", "trainer.val_check_interval=3"]
    real_usage = checkpoints.shutil.disk_usage
    queries: list[str] = []

    def usage(path):  # room for the first checkpoint only
        queries.append(str(path))
        total, used, free = real_usage(path)
        return type(real_usage(path))(total, used, free if len(queries) == 1 else 4096)

    monkeypatch.setattr(checkpoints.shutil, "disk_usage", usage)
    cfg = compose_config(*overrides)
    run_dir = Path(cfg.paths.output_dir)
    with pytest.raises(DiskSpaceError) as caught:
        run_training(cfg)
    message = str(caught.value)
    assert "needs about" in message and "4096 bytes free" in message and str(run_dir / "checkpoints") in message
    last = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 1  # the previous good checkpoint, intact
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["train_samples"] == 8 and summary["global_steps"] == 2
    assert "trainer.resume=" in summary["resume_command"] and "resume with:" in capsys.readouterr().out
    assert summary["resume_command"].endswith(f"trainer.resume={last}")

    monkeypatch.setattr(checkpoints.shutil, "disk_usage", real_usage)  # space freed: resume as printed
    resumed = compose_config(*overrides, shlex.split(summary["resume_command"])[-1])
    run_training(resumed)
    done = json.loads((run_dir / "summary.json").read_text())
    assert done["status"] == "completed" and done["global_steps"] == 3 and done["resumed_from"] == str(last)


def test_resume_command_names_the_module_and_path(tmp_path: Path) -> None:
    command = resume_command(tmp_path / "run")
    assert shlex.split(command)[1:] == ["-m", "whisper_exp", f"trainer.resume={tmp_path / 'run'}"]
