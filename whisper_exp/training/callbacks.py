"""Callbacks whisper_exp adds to Lightning's: training throughput excluding evaluation."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
from lightning.pytorch.trainer.states import TrainerFn


class TrainThroughput(L.Callback):
    """Counts training samples and the seconds spent training (validation time excluded)."""

    def __init__(self) -> None:
        self.samples = 0
        self.audio_seconds = 0.0
        self.seconds = 0.0
        self._started: float | None = None

    def _pause(self) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def _resume(self) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._resume()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.samples += len(batch["ids"])

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            self._pause()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            self._resume()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause()

    @property
    def samples_per_second(self) -> float:
        """Training samples per second of training time (0 before any training)."""
        return self.samples / self.seconds if self.seconds > 0 else 0.0
