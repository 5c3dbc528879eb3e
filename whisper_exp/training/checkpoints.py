"""Checkpoints: atomic writes, best/last/periodic callbacks, adapter-only contents, the resume path.

Every checkpoint is written to a hidden temporary file beside its target, fsync'ed and renamed
over it, so a run killed mid-write leaves the previous checkpoint intact (Lightning's own writer
goes through a temporary file in the system temp dir, which is a copy, not a rename, whenever that
is another filesystem).

Before each write the free space of the target's filesystem is checked against the checkpoint's
size (its tensors' bytes, known before anything is written): too little, or a write that fails
for want of space, raises `DiskSpaceError` with the bytes needed, the bytes free, the path and
the command that resumes from the previous good checkpoint (`resume_command`), which stays intact.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint

from whisper_exp.config.schema import TrainerConfig

log = logging.getLogger(__name__)

CHECKPOINT_DIRNAME = "checkpoints"
LAST_NAME = "last.ckpt"


# Room asked for beyond the checkpoint's tensor bytes: pickle framing, metadata, optimiser bookkeeping.
SPACE_MARGIN_FRACTION = 0.05
SPACE_MARGIN_BYTES = 1 << 20


class ResumeError(FileNotFoundError):
    """trainer.resume points at nothing usable; the message says what was searched."""


class DiskSpaceError(OSError):
    """Not enough disk space for a checkpoint; the previous checkpoint is kept and `resume` says how to go on."""

    def __init__(self, message: str, checkpoint_dir: Path, resume: str) -> None:
        super().__init__(errno.ENOSPC, message)
        self.message = message
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume

    def __str__(self) -> str:
        return self.message


def resume_command(run_dir_or_ckpt: str | Path) -> str:
    """The command line that resumes this run from `run_dir_or_ckpt`: ``python -m whisper_exp <this run's
    overrides> trainer.resume=PATH`` (one rule with the interrupt message: `signals.resume_command`)."""
    from whisper_exp.training.signals import resume_command as command_for
    from whisper_exp.training.signals import task_overrides

    return command_for(Path(run_dir_or_ckpt), task_overrides())


def _tensor_bytes(value: Any) -> int:
    """Bytes of every tensor in a (nested) checkpoint dict: what torch.save will write, less the framing."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_tensor_bytes(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(_tensor_bytes(item) for item in value)
    return 0


def _resume_point(target: Path) -> Path:
    """The checkpoint a run stopped while writing `target` resumes from: last.ckpt beside it, else its run dir."""
    last = target.parent / LAST_NAME
    return last if last.is_file() else target.parent.parent


def _no_space(target: Path, needed: int, free: int) -> DiskSpaceError:
    resume = resume_command(_resume_point(target))
    return DiskSpaceError(f"not enough disk space to write checkpoint {target}: needs about {needed} bytes, "
                          f"{free} bytes free on {target.parent}. The previous checkpoint is kept; free some "
                          f"space (or set paths.output_dir elsewhere) and resume with:\n  {resume}",
                          target.parent, resume)


def check_free_space(checkpoint: dict[str, Any], target: Path) -> int:
    """Raise DiskSpaceError when `target`'s filesystem cannot hold `checkpoint`; returns the bytes needed."""
    needed = int(_tensor_bytes(checkpoint) * (1 + SPACE_MARGIN_FRACTION)) + SPACE_MARGIN_BYTES
    free = shutil.disk_usage(target.parent).free
    if free < needed:
        raise _no_space(target, needed, free)
    return needed


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save into `.NAME.PID.tmp` next to the target, fsync, then os.replace (atomic on POSIX)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if "://" in str(path):  # remote storage: Lightning's fsspec transaction
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        needed = check_free_space(checkpoint, target)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with temporary.open("wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except (OSError, RuntimeError) as err:  # torch reports a full disk as "enforce fail at inline_container.cc"
            if isinstance(err, OSError) and err.errno != errno.ENOSPC and "No space" not in str(err):
                raise
            if isinstance(err, RuntimeError) and "inline_container" not in str(err) and "No space" not in str(err):
                raise
            temporary.unlink(missing_ok=True)
            raise _no_space(target, needed, shutil.disk_usage(target.parent).free) from err
        finally:
            temporary.unlink(missing_ok=True)


def checkpoint_callbacks(cfg: TrainerConfig, run_dir: Path) -> list[ModelCheckpoint]:
    """Best-by-monitor (+ last) checkpoints under RUN_DIR/checkpoints, and last.ckpt every N steps if asked.

    No version counter: a resumed run in the same dir overwrites last.ckpt instead of writing last-v1.ckpt
    beside a stale one.
    """
    directory = str(run_dir / CHECKPOINT_DIRNAME)
    callbacks = [ModelCheckpoint(
        dirpath=directory,
        filename="best-step{step}-" + cfg.monitor.replace("/", "_") + "{" + cfg.monitor + ":.4f}",
        auto_insert_metric_name=False, monitor=cfg.monitor, mode=cfg.monitor_mode,
        save_top_k=cfg.save_top_k, save_last=cfg.save_last, enable_version_counter=False,
    )]
    if cfg.checkpoint_every_n_steps:
        callbacks.append(ModelCheckpoint(dirpath=directory, every_n_train_steps=cfg.checkpoint_every_n_steps,
                                         save_top_k=0, save_last=True, enable_version_counter=False))
    return callbacks


class TrainableOnlyCheckpoints(L.Callback):
    """Keep only trainable weights (LoRA adapters) in checkpoints; the frozen base comes from its source.

    Restoring needs the task's `strict_loading=False` (set by run.py); this callback then checks
    that every trainable weight was in the checkpoint.
    """

    @staticmethod
    def _trainable(pl_module: L.LightningModule) -> set[str]:
        return {name for name, parameter in pl_module.named_parameters() if parameter.requires_grad}

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        keep = self._trainable(pl_module)
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        missing = sorted(self._trainable(pl_module) - set(checkpoint["state_dict"]))
        if missing:
            raise RuntimeError(f"checkpoint lacks {len(missing)} trainable weights (e.g. {missing[:3]}): it was not "
                               "written by this finetune preset")


def _newest(paths: list[Path]) -> Path | None:
    return max(paths, key=lambda p: p.stat().st_mtime) if paths else None


def resolve_resume(resume: str | None, run_dir: Path, task_name: str) -> Path | None:
    """The checkpoint `trainer.resume` names: null → None; last → RUN_DIR's last.ckpt, else the newest last.ckpt
    of a run of this task beside this one (outputs/<date>/<time>_<task>/…) or None; PATH → a .ckpt or a run dir."""
    if not resume:
        return None
    if resume == "last":
        own = run_dir / CHECKPOINT_DIRNAME / LAST_NAME
        if own.is_file():
            return own
        root = run_dir.parents[1] if len(run_dir.parents) > 1 else run_dir.parent
        candidates = [p for p in root.glob(f"*/*_{task_name}/{CHECKPOINT_DIRNAME}/{LAST_NAME}")
                      if run_dir not in p.parents]
        found = _newest(candidates)
        if found is None:
            log.warning("trainer.resume=last: no %s in %s or under %s: starting from scratch", LAST_NAME, run_dir, root)
        return found
    path = Path(resume).expanduser()
    if path.is_dir():
        path = path / CHECKPOINT_DIRNAME / LAST_NAME if (path / CHECKPOINT_DIRNAME).is_dir() else path / LAST_NAME
    if not path.is_file():
        raise ResumeError(f"trainer.resume={resume}: no checkpoint at {path} (give a .ckpt file, a run dir, or 'last')")
    return path
