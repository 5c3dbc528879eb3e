"""The Lightning Trainer from the trainer and strategy groups, with whisper_exp's callbacks."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import Logger

from whisper_exp.config.schema import StrategyConfig, TrainerConfig
from whisper_exp.training.callbacks import TrainThroughput

CHECKPOINT_DIRNAME = "checkpoints"


def checkpoint_callback(cfg: TrainerConfig, run_dir: Path) -> ModelCheckpoint:
    """Best-by-monitor (+ last) checkpoints under RUN_DIR/checkpoints."""
    return ModelCheckpoint(
        dirpath=str(run_dir / CHECKPOINT_DIRNAME),
        filename="best-step{step}-" + cfg.monitor.replace("/", "_") + "{" + cfg.monitor + ":.4f}",
        auto_insert_metric_name=False, monitor=cfg.monitor, mode=cfg.monitor_mode,
        save_top_k=cfg.save_top_k, save_last=cfg.save_last,
    )


def build_trainer(
    trainer: TrainerConfig, strategy: StrategyConfig, run_dir: Path, logger: Logger | None,
    extra_callbacks: list[Callback] | None = None,
) -> L.Trainer:
    """A Trainer configured from the groups; callbacks: checkpoints, throughput, LR monitor, progress."""
    callbacks: list[Callback] = [checkpoint_callback(trainer, run_dir), TrainThroughput(), *(extra_callbacks or [])]
    if logger is not None:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if trainer.enable_progress_bar:
        callbacks.append(RichProgressBar())
    optional = {name: getattr(trainer, name) for name in ("limit_train_batches", "limit_val_batches",
                                                          "limit_test_batches") if getattr(trainer, name) is not None}
    return L.Trainer(
        default_root_dir=str(run_dir), logger=logger if logger is not None else False, callbacks=callbacks,
        accelerator=strategy.accelerator, strategy=strategy.strategy, devices=strategy.devices,
        num_nodes=strategy.num_nodes, precision=trainer.precision, max_steps=trainer.max_steps,
        max_epochs=trainer.max_epochs, val_check_interval=trainer.val_check_interval,
        check_val_every_n_epoch=trainer.check_val_every_n_epoch,
        accumulate_grad_batches=trainer.accumulate_grad_batches, gradient_clip_val=trainer.gradient_clip_val,
        log_every_n_steps=trainer.log_every_n_steps, deterministic=trainer.deterministic,
        enable_progress_bar=trainer.enable_progress_bar, fast_dev_run=trainer.fast_dev_run,
        overfit_batches=trainer.overfit_batches, num_sanity_val_steps=0, **optional,
    )


def find_callback(trainer: L.Trainer, kind: type) -> Callback:
    """The trainer's callback of type `kind`."""
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, kind):
            return callback
    raise LookupError(f"no {kind.__name__} callback on the trainer")
