"""SIGTERM / SIGINT during training: finish the step, write last.ckpt, stop with RunInterrupted.

Schedulers (SLURM preemption, `kill`, Ctrl+C) stop jobs with these signals. Saving inside the
signal handler could catch the optimiser half-way through a step, so the handler only records
the request; the checkpoint is written at the end of the current training batch, where the state
is consistent (the place Lightning's own step checkpoints are written). All ranks agree before
saving, so DDP never deadlocks on a signal that reached only one process. A second Ctrl+C stops
at once. While training, this replaces Lightning's own SIGTERM handler (which would stop the loop
before a checkpoint is written); Lightning's is back for the rest of the run.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L

log = logging.getLogger(__name__)

HANDLED = (signal.SIGTERM, signal.SIGINT)


# A BaseException, like KeyboardInterrupt: a generic `except Exception` (the sweep's failure handling) lets it through.
class RunInterrupted(BaseException):
    """Training stopped on a signal after saving a checkpoint; the message says how to resume."""

    def __init__(self, message: str, checkpoint: Path) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


class CheckpointOnSignal(L.Callback):
    """Installs SIGTERM/SIGINT handlers for the duration of training and saves `path` on either."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt  # second Ctrl+C: stop now
            return
        self.requested = signal.Signals(signum).name
        log.warning("%s received: saving a checkpoint at the end of this training step, then stopping",
                    self.requested)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.requested = None
        if threading.current_thread() is not threading.main_thread():
            log.warning("training runs outside the main thread: no checkpoint on SIGTERM/SIGINT")
            return
        for signum in HANDLED:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def _restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        requested = self.requested is not None
        if trainer.world_size > 1:
            requested = trainer.strategy.reduce_boolean_decision(requested, all=False)
        if not requested:
            return
        trainer.save_checkpoint(self.path)
        step = trainer.global_step
        reason = self.requested or "a signal on another rank"
        raise RunInterrupted(f"{reason} at step {step}: checkpoint saved to {self.path}; continue with "
                             f"trainer.resume={self.path}", self.path)
