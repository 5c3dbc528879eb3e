"""W&B naming for sweeps: one group per sweep, run names from the job's overrides, tags with model, data,
finetune mode and LR."""

from __future__ import annotations

from pathlib import Path

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import LoggerConfig
from whisper_exp.tracking.loggers import SweepJob, build_logger, current_sweep, run_group, run_tags


def test_runs_of_one_sweep_share_a_group_and_carry_model_data_finetune_lr_tags(tmp_path: Path) -> None:
    job = SweepJob(sweep_dir="/x/multirun/2026-11-22/10-00-00_train", number=3,
                   overrides=("optimizer.lr=1e-05", "finetune.frozen_layers=2"))
    assert job.run_name == "3: optimizer.lr=1e-05 finetune.frozen_layers=2"
    cfg = typed_defaults(LoggerConfig, name="wandb", group="train", mode="offline")
    assert run_group(cfg, job) == "2026-11-22/10-00-00_train"
    assert run_group(cfg, None) == "train"
    explicit = SweepJob(sweep_dir=job.sweep_dir, number=0, overrides=("logger.group=mine",))
    assert run_group(typed_defaults(LoggerConfig, group="mine"), explicit) == "mine"
    tags = run_tags(["tiny.en", "demo_sg", "full"], "frozen_layers=2", 1e-5)
    assert tags == ["tiny.en", "demo_sg", "full", "frozen_layers=2", "lr=1e-05"]
    assert run_tags(["tiny.en", "full"], "full", 3.75e-5) == ["tiny.en", "full", "lr=3.75e-05"]
    logger = build_logger(cfg, tmp_path, run_name="ignored", tags=tags, config={}, sweep=job)
    # Lightning keeps the wandb.init arguments until the first use (no W&B process is started here).
    init = logger._wandb_init
    assert (init["group"], init["name"], init["tags"]) == ("2026-11-22/10-00-00_train", job.run_name, tags)
    assert current_sweep() is None  # outside a Hydra multirun
