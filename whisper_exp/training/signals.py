"""SIGTERM / SIGINT: during training finish the step, write last.ckpt, stop with RunInterrupted; at any other
point of a run stop at once with RunInterrupted (no checkpoint to write); the entry points turn it into one line.

Schedulers (SLURM preemption, `kill`, Ctrl+C) stop jobs with these signals. Saving inside the
signal handler could catch the optimiser half-way through a step, so the handler only records
the request; the checkpoint is written at the end of the current training batch, where the state
is consistent (the place Lightning's own step checkpoints are written). All ranks agree before
saving, so DDP never deadlocks on a signal that reached only one process. A second Ctrl+C stops
at once. While training, this replaces Lightning's own SIGTERM handler (which would stop the loop
before a checkpoint is written); Lightning's is back for the rest of the run.

Outside training (loading, the zero-shot validation, testing, export) `stop_on_signals` raises at once, so a
user who stops a slow baseline is not kept waiting. `interrupt_exit` prints the one line a user needs
(signal, step, checkpoint, the exact resume command) and exits 128 + the signal number (130 Ctrl+C, 143 SIGTERM)
instead of a traceback.
"""

from __future__ import annotations

import logging
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L

log = logging.getLogger(__name__)

HANDLED = (signal.SIGTERM, signal.SIGINT)


# A BaseException, like KeyboardInterrupt: a generic `except Exception` (the sweep's failure handling) lets it through.
class RunInterrupted(BaseException):
    """A run stopped on a signal; `checkpoint` (when training had started) is where it can resume from."""

    def __init__(self, message: str, checkpoint: Path | None, signal_name: str = "SIGINT",
                 step: int | None = None) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.signal_name = signal_name
        self.step = step

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + int(getattr(signal, self.signal_name, signal.SIGINT))


class CheckpointOnSignal(L.Callback):
    """Installs SIGTERM/SIGINT handlers for the duration of training and saves `path` on either."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            if signum == signal.SIGINT:  # second Ctrl+C: stop now, without the checkpoint
                raise RunInterrupted("SIGINT twice: stopped before the checkpoint was written", None, "SIGINT")
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
                             f"trainer.resume={self.path}", self.path, self.requested or "SIGTERM", step)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    raise RunInterrupted(f"{name} outside training: stopped at once", None, name)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """For the whole run: SIGTERM/SIGINT raise RunInterrupted at once (training installs CheckpointOnSignal's
    deferred handlers on top, and Lightning composes its SIGTERM handler with this one)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in HANDLED}
    for signum in HANDLED:
        signal.signal(signum, _raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def resume_command(checkpoint: Path, overrides: list[str], module: str = "whisper_exp") -> str:
    """The exact command that continues a run from `checkpoint`: its own overrides, trainer.resume replaced."""
    kept = [item for item in overrides if not item.lstrip("+~").startswith("trainer.resume=")]
    return shlex.join(["python", "-m", module, *kept, f"trainer.resume={checkpoint}"])


def interrupt_line(error: RunInterrupted, overrides: list[str]) -> str:
    """One line for the user: what stopped the run, where, and how to continue."""
    if error.checkpoint is None:
        return (f"Stopped by {error.signal_name} (no checkpoint written at this point of the run); "
                "run the same command again to start over.")
    return (f"Stopped by {error.signal_name} at step {error.step}; checkpoint saved: {error.checkpoint}; "
            f"resume with: {resume_command(error.checkpoint, overrides)}")


def task_overrides() -> list[str]:
    """The command-line overrides of the current Hydra job ([] outside Hydra)."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def interrupt_exit(error: RunInterrupted | KeyboardInterrupt) -> None:
    """Print the one-line report of a stopped run on stderr and exit with 128 + the signal number."""
    if isinstance(error, KeyboardInterrupt):  # a second Ctrl+C: no checkpoint promised
        error = RunInterrupted("SIGINT", None, "SIGINT")
    print(interrupt_line(error, task_overrides()), file=sys.stderr, flush=True)
    sys.exit(error.exit_code)
