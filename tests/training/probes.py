"""Test callbacks, named in `trainer.extra_callbacks` by `_target_` (importable: tests/training is on the path)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 over every parameter's bytes, in name order."""
    digest = hashlib.sha256()
    for name, parameter in sorted(module.named_parameters()):
        digest.update(name.encode())
        digest.update(parameter.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class RankProbe(L.Callback):
    """Per rank: the sample ids of every training batch and the weights' digest after every step → rank<N>.json."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)
        self.batches: list[list[str]] = []
        self.digests: list[str] = []
        self.initial = ""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.initial = weights_digest(pl_module)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self.batches.append(list(batch["ids"]))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.digests.append(weights_digest(pl_module))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = {"rank": trainer.global_rank, "world_size": trainer.world_size, "pid": os.getpid(),
                  "batches": self.batches, "digests": self.digests, "initial": self.initial}
        (self.out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


class SlowSteps(L.Callback):
    """Sleeps after every training step from `after` on (gives a test time to kill the run mid-way)."""

    def __init__(self, seconds: float, after: int = 0) -> None:
        self.seconds = seconds
        self.after = after

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if trainer.global_step >= self.after:
            time.sleep(self.seconds)


class SignalAt(L.Callback):
    """Sends `signum` to this process at the end of training step `step`."""

    def __init__(self, step: int, signum: int) -> None:
        self.step = step
        self.signum = signum

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.Signals(self.signum))


class SignalAtValidation(L.Callback):
    """Sends `signum` to this process when the first validation batch ends (the zero-shot baseline: outside
    training)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        os.kill(os.getpid(), signal.Signals(self.signum))


class KillAt(L.Callback):
    """SIGKILLs this process when training step `step` is about to start (its checkpoint for `step` is written)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
