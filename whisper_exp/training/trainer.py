"""The Lightning Trainer from the trainer and strategy groups, with whisper_exp's callbacks.

Callbacks: best/last (+ every-N-steps) checkpoints written atomically, training throughput, the
loss-health monitor, checkpoint-on-signal, adapter-only checkpoints for LoRA, LR monitor, W&B sample-prediction
tables, progress bar, and any `trainer.extra_callbacks` (Hydra `_target_` specs).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, RichProgressBar
from lightning.pytorch.loggers import Logger

from whisper_exp.config.schema import StrategyConfig, TrainerConfig
from whisper_exp.tracking.wandb_tables import PredictionTables
from whisper_exp.training.callbacks import TrainThroughput
from whisper_exp.training.checkpoints import (
    CHECKPOINT_DIRNAME,
    LAST_NAME,
    AtomicCheckpointIO,
    TrainableOnlyCheckpoints,
    checkpoint_callbacks,
)
from whisper_exp.training.hardware import resolve_precision
from whisper_exp.training.health import LossHealthMonitor
from whisper_exp.training.signals import CheckpointOnSignal
from whisper_exp.training.strategy import build_strategy, use_hydra_job_launcher

__all__ = ["CHECKPOINT_DIRNAME", "build_trainer", "find_callback"]


def build_trainer(
    trainer: TrainerConfig, strategy: StrategyConfig, run_dir: Path, logger: Logger | None,
    extra_callbacks: list[Callback] | None = None, *, wrap_classes: set[type[torch.nn.Module]] | None = None,
    trainable_only_checkpoints: bool = False, lr: float | None = None,
) -> L.Trainer:
    """A Trainer configured from the groups (see the module docstring for its callbacks).

    wrap_classes: the model's transformer block classes (FSDP's wrapping unit); trainable_only_checkpoints:
    drop frozen weights from checkpoints (LoRA); lr: quoted by the loss-health warning.
    """
    callbacks: list[Callback] = [*checkpoint_callbacks(trainer, run_dir), TrainThroughput()]
    if trainer.loss_health.enabled:
        callbacks.append(LossHealthMonitor(trainer.loss_health, lr))
    if trainer.checkpoint_on_signal:
        callbacks.append(CheckpointOnSignal(run_dir / CHECKPOINT_DIRNAME / LAST_NAME))
    if trainable_only_checkpoints:
        callbacks.append(TrainableOnlyCheckpoints())
    callbacks += [instantiate(spec) for spec in trainer.extra_callbacks]
    callbacks += extra_callbacks or []
    if logger is not None:
        callbacks += [LearningRateMonitor(logging_interval="step"), PredictionTables()]
    if trainer.enable_progress_bar:
        callbacks.append(RichProgressBar())
    optional = {name: getattr(trainer, name) for name in ("limit_train_batches", "limit_val_batches",
                                                          "limit_test_batches") if getattr(trainer, name) is not None}
    # DeepSpeed writes its own (sharded) checkpoint folders.
    plugins = [] if strategy.strategy == "deepspeed" else [AtomicCheckpointIO()]
    built = L.Trainer(
        default_root_dir=str(run_dir), logger=logger if logger is not None else False, callbacks=callbacks,
        accelerator=strategy.accelerator, strategy=build_strategy(strategy, wrap_classes), devices=strategy.devices,
        num_nodes=strategy.num_nodes, precision=resolve_precision(trainer.precision, strategy.accelerator).precision,
        max_steps=trainer.max_steps,
        max_epochs=trainer.max_epochs, val_check_interval=trainer.val_check_interval,
        check_val_every_n_epoch=trainer.check_val_every_n_epoch,
        accumulate_grad_batches=trainer.accumulate_grad_batches, gradient_clip_val=trainer.gradient_clip_val,
        log_every_n_steps=trainer.log_every_n_steps, deterministic=trainer.deterministic,
        enable_progress_bar=trainer.enable_progress_bar, fast_dev_run=trainer.fast_dev_run,
        overfit_batches=trainer.overfit_batches, num_sanity_val_steps=0, plugins=plugins, **optional,
    )
    use_hydra_job_launcher(built)
    return built


def find_callback(trainer: L.Trainer, kind: type) -> Callback:
    """The trainer's callback of type `kind`."""
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, kind):
            return callback
    raise LookupError(f"no {kind.__name__} callback on the trainer")
