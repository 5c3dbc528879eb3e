"""Resume after a SIGKILL reaches the same steps, LRs and losses as an uninterrupted run; SIGTERM/SIGINT save a
checkpoint first; NaN stops with the step; checkpoints are written atomically; `trainer.resume` resolution."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from run_helpers import cli_env, tiny_run_overrides
from torch.utils.data import DataLoader
from transformers import WhisperForConditionalGeneration

from whisper_exp.run import run_training
from whisper_exp.summary import read_summary
from whisper_exp.training.checkpoints import AtomicCheckpointIO, ResumeError, resolve_resume
from whisper_exp.training.resume import ResumableDataModule, ResumableSampler
from whisper_exp.training.signals import RunInterrupted

STEPS = 8  # 8 training clips in batches of 2: two epochs


def step_metrics(run_dir: Path) -> dict[int, dict[str, float]]:
    """Per logged step: the learning rate (first param group) and the training loss, from csv/metrics.csv."""
    by_step: dict[int, dict[str, float]] = {}
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        for row in csv.DictReader(handle):
            entry = by_step.setdefault(int(row["step"]), {})
            for key, name in (("lr-AdamW/pg1", "lr"), ("train/loss", "loss")):
                if row.get(key):
                    entry[name] = float(row[key])
    return by_step


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path: Path, compose_config, random_whisper_dir: Path,
                                                           demo_subset: Path) -> None:
    overrides = [*tiny_run_overrides(random_whisper_dir, demo_subset, steps=STEPS),
                 "trainer.checkpoint_every_n_steps=2", "trainer.loss_health.steps=4"]
    run_training(compose_config(*overrides, f"paths.output_dir={tmp_path / 'reference'}"))
    reference = read_summary(tmp_path / "reference")
    assert reference["loss_health"]["steps"] == 4 and set(reference["loss_health"]) >= {"decrease", "noise", "flags"}

    killed_dir = tmp_path / "killed"
    slow = "trainer.extra_callbacks=[{_target_:probes.SlowSteps,seconds:0.5,after:2}]"  # room to kill mid-run
    process = subprocess.Popen([sys.executable, "-m", "whisper_exp", *overrides, slow, f"hydra.run.dir={killed_dir}"],
                               cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = killed_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    stopped_at = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    assert 0 < stopped_at < STEPS and not (killed_dir / "summary.json").exists()

    run_training(compose_config(*overrides, f"paths.output_dir={tmp_path / 'resumed'}",
                                f"trainer.resume={killed_dir}"))  # a run dir: its checkpoints/last.ckpt
    resumed = read_summary(tmp_path / "resumed")
    assert resumed["resumed_from"] == str(last) and resumed["status"] == "completed"
    assert resumed["global_steps"] == reference["global_steps"] == STEPS

    expected, got = step_metrics(tmp_path / "reference"), step_metrics(tmp_path / "resumed")
    later = [step for step in sorted(expected) if stopped_at <= step < STEPS and "lr" in expected[step]]
    assert len(later) == STEPS - stopped_at
    for step in later:
        assert got[step]["lr"] == pytest.approx(expected[step]["lr"], rel=1e-9), step
        # Same data position, weights and optimizer state ⇒ the same loss (float noise aside).
        assert got[step]["loss"] == pytest.approx(expected[step]["loss"], rel=1e-4), step
    assert resumed["wer"] == pytest.approx(reference["wer"])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_a_checkpoint_then_stops(tmp_path: Path, compose_config, random_whisper_dir: Path,
                                                demo_subset: Path, signum: signal.Signals) -> None:
    sender = f"trainer.extra_callbacks=[{{_target_:probes.SignalAt,step:2,signum:{int(signum)}}}]"
    cfg = compose_config(*tiny_run_overrides(random_whisper_dir, demo_subset, steps=6), sender)
    previous = signal.getsignal(signum)
    with pytest.raises(RunInterrupted, match=rf"{signum.name} at step 3: checkpoint saved"):
        run_training(cfg)
    assert signal.getsignal(signum) is previous  # handlers restored
    run_dir = Path(cfg.paths.output_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 3
    summary = read_summary(run_dir)
    assert summary["status"] == "interrupted" and summary["resume_with"] == f"trainer.resume={last}"


def test_a_nan_loss_stops_naming_the_step_and_is_recorded(tmp_path: Path, compose_config, random_whisper_dir: Path,
                                                          demo_subset: Path) -> None:
    poisoned = tmp_path / "nan_model"
    shutil.copytree(random_whisper_dir, poisoned)
    model = WhisperForConditionalGeneration.from_pretrained(poisoned)
    with torch.no_grad():
        model.model.decoder.layer_norm.weight[0] = float("nan")
    model.save_pretrained(poisoned)
    overrides = tiny_run_overrides(poisoned, demo_subset)
    cfg = compose_config(*overrides)
    with pytest.raises(FloatingPointError, match=r"training loss is nan at step 0: lower the learning rate"):
        run_training(cfg)
    summary = read_summary(Path(cfg.paths.output_dir))
    assert summary["status"] == "failed" and summary["error"].startswith("FloatingPointError")
    assert summary["params_trainable"] > 0 and summary["config"]["model"]["checkpoint"] == str(poisoned)


def test_checkpoints_are_replaced_atomically(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    target = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 1}, target)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        io.save_checkpoint({"global_step": 2, "bad": Unpicklable()}, target)
    assert torch.load(target, weights_only=False) == {"global_step": 1}  # the previous checkpoint survives
    assert [p.name for p in target.parent.iterdir()] == ["last.ckpt"]  # no temporary file left behind


def test_resume_paths(tmp_path: Path) -> None:
    def make(run: Path) -> Path:
        path = run / "checkpoints" / "last.ckpt"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
        return path

    outputs = tmp_path / "outputs"
    older = make(outputs / "2026-01-01" / "10-00-00_train")
    newer = make(outputs / "2026-01-02" / "09-00-00_train")
    make(outputs / "2026-01-03" / "08-00-00_other")
    os.utime(older, (1, 1))
    current = outputs / "2026-01-04" / "07-00-00_train"
    assert resolve_resume(None, current, "train") is None
    assert resolve_resume("last", current, "train") == newer  # newest of this task, not another task's
    own = make(current)
    assert resolve_resume("last", current, "train") == own  # a reused run dir continues from its own
    assert resolve_resume(str(older), current, "train") == older
    assert resolve_resume(str(older.parents[1]), current, "train") == older
    assert resolve_resume("last", tmp_path / "fresh" / "a" / "b_none", "none") is None
    with pytest.raises(ResumeError, match="no checkpoint at"):
        resolve_resume(str(tmp_path / "missing.ckpt"), current, "train")


def test_resumable_sampler_orders_by_epoch_and_skips_what_was_done() -> None:
    data = list(range(10))
    sampler = ResumableSampler(data, num_replicas=1, rank=0, seed=3)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert sorted(epoch1) == data and epoch1 != list(ResumableSampler(data, num_replicas=1, rank=0, seed=3))
    fresh = ResumableSampler(data, num_replicas=1, rank=0, seed=3)
    fresh.start_at(epoch=1, samples_done=4)
    assert list(fresh) == epoch1[4:]  # the rest of epoch 1, as an uninterrupted run would see it
    assert list(fresh) == epoch1  # only the first iteration skips
    ranks = [list(ResumableSampler(data, num_replicas=2, rank=r, seed=3)) for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1]) and sorted(ranks[0] + ranks[1]) == data



class NumbersData(L.LightningDataModule):
    """Ten numbers in shuffled batches of 2 (a stand-in for SpeechDataModule)."""

    def train_dataloader(self) -> DataLoader:
        return DataLoader(list(range(10)), batch_size=2, shuffle=True)


def fake_trainer(epoch: int, processed: int, batches_per_epoch: int = 5) -> SimpleNamespace:
    progress = SimpleNamespace(current=SimpleNamespace(processed=processed))
    return SimpleNamespace(world_size=1, global_rank=0, current_epoch=epoch, num_training_batches=batches_per_epoch,
                           fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)))


def test_the_datamodule_records_the_data_position_and_restarts_there() -> None:
    saved = ResumableDataModule(NumbersData(), seed=7)
    saved.trainer = fake_trainer(epoch=1, processed=2)
    loader = saved.train_dataloader()
    loader.sampler.set_epoch(1)
    epoch1 = [batch.tolist() for batch in loader]
    state = saved.state_dict()
    assert state == {"epoch": 1, "batches_done": 2}

    resumed = ResumableDataModule(NumbersData(), seed=7)
    resumed.load_state_dict(state)
    resumed.trainer = fake_trainer(epoch=0, processed=0)  # loops are restored only after the loader is built
    assert [batch.tolist() for batch in resumed.train_dataloader()] == epoch1[2:]

    saved.trainer = fake_trainer(epoch=1, processed=5)  # saved after the last batch of epoch 1
    assert saved.state_dict() == {"epoch": 2, "batches_done": 0}
