"""Build the Lightning logger from the logger group.

W&B `mode: auto` goes online only when credentials exist (WANDB_API_KEY, or an api.wandb.ai
entry written by `wandb login` in ~/.netrc) and WANDB_MODE is not set to something else;
otherwise it runs offline into the run dir and says how to upload it later.

Sweeps: the jobs of one Hydra multirun share a W&B group named after the sweep (unless
`logger.group` is set on the command line), each run is named by its number and overrides, and
every run is tagged with model, data, finetune mode and LR. Under DDP only rank 0 creates a W&B
run or writes CSV (Lightning's loggers are rank-zero only), and only rank 0 logs the offline hint.

Resuming in the same run dir (trainer.resume=last): the CSV logger appends to the existing
metrics.csv (Lightning's own deletes it), first dropping the rows at or after the first step the
resumed run logs (they were logged after the checkpoint and are logged again), and writes every
step at once, so a killed run loses no row before its last checkpoint. W&B resumes the same run id
(`wandb_run_id`: kept in RUN_DIR/wandb/run_id).
"""

from __future__ import annotations

import csv
import logging
import netrc
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities import rank_zero_info

from whisper_exp.config.schema import LoggerConfig

log = logging.getLogger(__name__)

WANDB_HOST = "api.wandb.ai"
WANDB_ID_FILE = "run_id"
WANDB_ID_CHARS = 8
# W&B limits: 64 characters per tag, 128 per run name and group.
MAX_TAG = 64
MAX_NAME = 128


@dataclass(frozen=True)
class SweepJob:
    """Where a job sits in a Hydra multirun: the sweep's dir, its job number, its own overrides."""

    sweep_dir: str
    number: int
    overrides: tuple[str, ...]

    @property
    def sweep_name(self) -> str:
        """The sweep's identity: its dir's last two parts (<date>/<time>_<task>), unique per sweep."""
        return "/".join(Path(self.sweep_dir).parts[-2:])

    @property
    def run_name(self) -> str:
        """Job number and overrides, e.g. '3: optimizer.lr=1e-05 finetune.frozen_layers=2'."""
        return f"{self.number}: {' '.join(self.overrides)}"[:MAX_NAME]


def current_sweep() -> SweepJob | None:
    """This job's place in a Hydra multirun, or None for a single run (or outside Hydra)."""
    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return None
    return SweepJob(sweep_dir=str(hydra.sweep.dir), number=int(hydra.job.num), overrides=tuple(hydra.overrides.task))


def run_tags(tags: list[str], finetune_mode: str, lr: float) -> list[str]:
    """The configured tags (model, data, finetune preset, …) + the finetune mode and the LR, deduplicated."""
    merged = [*tags, finetune_mode, f"lr={lr:.3g}"]
    return list(dict.fromkeys(tag[:MAX_TAG] for tag in merged if tag))


def run_group(cfg: LoggerConfig, sweep: SweepJob | None) -> str | None:
    """logger.group, except in a sweep where it was not set on the command line: the sweep's name."""
    if sweep is None or any(o.startswith("logger.group=") for o in sweep.overrides):
        return cfg.group
    return sweep.sweep_name[:MAX_NAME]


def wandb_credentials_present() -> bool:
    """True when W&B could authenticate without asking (env var or netrc entry)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def wandb_mode(cfg: LoggerConfig) -> str:
    """The W&B mode to run in: the configured one, or online/offline by credentials."""
    if cfg.mode != "auto":
        return cfg.mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if wandb_credentials_present() else "offline"


class AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, keeping an existing metrics.csv and continuing it (see module doc)."""

    def _check_log_dir_exists(self) -> None:
        self._resumed = os.path.isfile(self.metrics_file_path)
        if self._resumed:
            with open(self.metrics_file_path, newline="") as handle:
                self.metrics_keys = sorted(csv.DictReader(handle).fieldnames or [])

    def save(self) -> None:
        if self._resumed and self.metrics:
            self._resumed = False
            first = min(int(row["step"]) for row in self.metrics)
            with open(self.metrics_file_path, newline="") as handle:
                kept = [row for row in csv.DictReader(handle) if row.get("step") and int(row["step"]) < first]
            with open(self.metrics_file_path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(kept)
        super().save()


class AppendingCSVLogger(CSVLogger):
    """CSVLogger whose metrics.csv survives a resume in the same run dir and is written every step."""

    def __init__(self, save_dir: str) -> None:
        super().__init__(save_dir=save_dir, name="csv", version="", flush_logs_every_n_steps=1)

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def wandb_run_id(run_dir: Path) -> str:
    """The W&B run id of this run dir: the one a previous (interrupted) run used, else a new one, kept."""
    path = run_dir / "wandb" / WANDB_ID_FILE
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    run_id = uuid.uuid4().hex[:WANDB_ID_CHARS]  # W&B's own generator is not public API (moved between releases)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id + "\n")
    return run_id


def build_logger(
    cfg: LoggerConfig, run_dir: Path, *, run_name: str, tags: list[str], config: dict[str, Any],
    sweep: SweepJob | None = None,
) -> Logger | None:
    """The configured logger (None for `logger=none`), with the resolved config attached.

    `sweep` (see current_sweep) names the run after its job and groups it with its sweep.
    """
    if cfg.name == "none":
        return None
    if cfg.name == "csv":
        logger: Logger = AppendingCSVLogger(save_dir=str(run_dir))
    else:
        mode = wandb_mode(cfg)
        logger = WandbLogger(project=cfg.project, entity=cfg.entity, group=run_group(cfg, sweep),
                             name=sweep.run_name if sweep is not None else run_name, tags=tags,
                             save_dir=str(run_dir), mode=mode, log_model=cfg.log_model,
                             id=wandb_run_id(run_dir), resume="allow")
        if mode == "offline":
            rank_zero_info(f"W&B is offline (no credentials found). Upload this run later with: wandb sync "
                           f"{run_dir / 'wandb' / 'offline-run-*'}")
    logger.log_hyperparams(config)
    return logger
