"""Training throughput excluding evaluation (summed over ranks under DDP), time to the first step, and the
training seconds at each validation (`time/train_s`, logged beside val/wer)."""

from __future__ import annotations

import logging
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn

from whisper_exp.data.collate import Batch

log = logging.getLogger(__name__)


def seconds_since_process_start() -> float:
    """Wall seconds since this process started (interpreter start-up and imports included)."""
    import psutil  # a dependency of wandb and lightning's system monitors

    return time.time() - psutil.Process().create_time()


class TrainThroughput(L.Callback):
    """Counts training samples and the seconds spent training (validation time excluded)."""

    def __init__(self) -> None:
        self.samples = 0
        self.audio_seconds = 0.0
        self.seconds = 0.0
        self._started: float | None = None
        # Seconds from process start to the first training step (model load, data preparation, set-up).
        self.first_step_after_s: float | None = None

    def _pause(self) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def _resume(self) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._resume()

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self.first_step_after_s is None:
            self.first_step_after_s = seconds_since_process_start()
            log.info("first training step %.1f s after the process started", self.first_step_after_s)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Batch,
                           batch_idx: int) -> None:
        self.samples += int(batch.get("n_utterances", len(batch["ids"])))
        self.audio_seconds += float(batch.get("audio_seconds", 0.0))

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            self._pause()

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Beside val/wer, so time-to-quality (seconds of training needed to reach a WER) reads off the log.
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking:
            pl_module.log("time/train_s", self.seconds, rank_zero_only=True)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            self._resume()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause()
        if trainer.world_size > 1:  # every rank counted its own share: the run's throughput is their sum
            totals = trainer.strategy.reduce(torch.tensor([float(self.samples), self.audio_seconds]),
                                             reduce_op="sum")
            self.samples, self.audio_seconds = round(float(totals[0])), float(totals[1])

    @property
    def audio_seconds_per_second(self) -> float:
        """Seconds of training audio per second of training time."""
        return self.audio_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def samples_per_second(self) -> float:
        """Training samples per second of training time (0 before any training)."""
        return self.samples / self.seconds if self.seconds > 0 else 0.0
