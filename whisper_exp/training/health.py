"""Loss-health monitor: over the first training steps, does the loss come down, rise, or jump about?

The fine-tuning folklore (and the seeds' experience) says a training loss that climbs above where
it started, is noisy, or does not come down in the first steps is the usual sign of a too-high
learning rate. The check is a warning with the numbers it saw, never a stop:

* rise: highest local trend (median of each step's 4 neighbours) / starting loss (median of the
  first 3 steps) − 1. A pretrained model's loss should not climb: at 27× the rule-of-thumb LR,
  bundled tiny.en on demo_sg went 1.5 → 5.8 in three steps (rise 1.3) and ended its first 30
  steps at 0.9, where the rule's LR was at 0.3;
* decrease: 1 − median of the window's last quarter / median of its first quarter;
* noise: median over steps of |loss − its neighbours' median| / that median — the typical
  step-to-step deviation from the local trend (0.19 for that healthy run at batch size 8;
  smaller batches are noisier).

Medians keep one odd batch from deciding any number.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import lightning as L
import numpy as np

from whisper_exp.config.schema import LossHealthConfig

log = logging.getLogger(__name__)

NEIGHBOURS = 2  # on each side
START_STEPS = 3
MIN_POINTS = 4


@dataclass(frozen=True)
class LossHealthReport:
    """What the monitor saw over the first `steps` steps, and what it flags."""

    steps: int
    start: float
    peak: float
    first: float
    last: float
    rise: float
    decrease: float
    noise: float
    flags: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when nothing was flagged."""
        return not self.flags

    def as_dict(self) -> dict[str, Any]:
        """Plain values for summary.json."""
        return {**asdict(self), "healthy": self.healthy}

    def message(self, lr: float | None = None) -> str:
        """One line for the log."""
        seen = (f"over the first {self.steps} steps the training loss started at {self.start:.3f}, peaked at "
                f"{self.peak:.3f} and went {self.first:.3f} → {self.last:.3f} (rise {self.rise:.0%}, decrease "
                f"{self.decrease:.0%}, step noise {self.noise:.0%})")
        if self.healthy:
            return f"loss health: ok — {seen}"
        hint = f"; consider a lower learning rate (optimizer.lr, now {lr:.3g})" if lr else "; consider a lower LR"
        return f"loss health: {' and '.join(self.flags)} — {seen}{hint}"


def _neighbour_median(values: np.ndarray, reach: int) -> np.ndarray:
    """For each step, the median of the `reach` steps on either side (the step itself excluded)."""
    return np.array([np.median(np.concatenate([values[max(0, i - reach): i], values[i + 1: i + 1 + reach]]))
                     for i in range(len(values))])


def assess_loss_curve(losses: list[float], cfg: LossHealthConfig) -> LossHealthReport:
    """Rise, decrease and noise of a training-loss curve, flagged against the thresholds of `cfg`."""
    values = np.asarray(losses, dtype=np.float64)
    if len(values) < MIN_POINTS or not np.all(np.isfinite(values)):
        raise ValueError(f"need at least {MIN_POINTS} finite loss values, got {losses!r}")
    quarter = max(1, len(values) // 4)
    first, last = float(np.median(values[:quarter])), float(np.median(values[-quarter:]))
    start = float(np.median(values[:START_STEPS]))
    trend = _neighbour_median(values, NEIGHBOURS)
    peak = float(trend.max())
    rise = peak / start - 1.0 if start > 0 else 0.0
    decrease = 1.0 - last / first if first > 0 else 0.0
    noise = float(np.median(np.abs(values - trend) / np.maximum(trend, 1e-12)))
    flags = []
    if rise > cfg.max_rise:
        flags.append(f"rising (> {cfg.max_rise:.0%} above its start)")
    if decrease < cfg.min_decrease:
        flags.append(f"not decaying (< {cfg.min_decrease:.0%})")
    if noise > cfg.max_noise:
        flags.append(f"noisy (> {cfg.max_noise:.0%})")
    return LossHealthReport(steps=len(values), start=start, peak=peak, first=first, last=last, rise=rise,
                            decrease=decrease, noise=noise, flags=flags)


class LossHealthMonitor(L.Callback):
    """Collects the per-step training loss and assesses it once, when `steps` losses are in (shorter runs: no check)."""

    def __init__(self, cfg: LossHealthConfig, lr: float | None = None) -> None:
        self.cfg = cfg
        self.lr = lr
        self.losses: list[float] = []
        self.report: LossHealthReport | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.report is not None or not isinstance(outputs, dict) or "loss" not in outputs:
            return
        self.losses.append(float(outputs["loss"].detach()))
        if len(self.losses) >= self.cfg.steps:
            self._assess(log_it=trainer.is_global_zero)

    def _assess(self, log_it: bool) -> None:
        finite = [value for value in self.losses if np.isfinite(value)]
        if len(finite) < MIN_POINTS:
            return
        self.report = assess_loss_curve(finite, self.cfg)
        if log_it:  # rank 0 speaks for the run (each rank sees its own share of the data)
            (log.info if self.report.healthy else log.warning)(self.report.message(self.lr))

    def state_dict(self) -> dict[str, Any]:
        return {"losses": self.losses, "report": self.report.as_dict() if self.report else None}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.losses = list(state_dict.get("losses", []))
        report = state_dict.get("report")
        if report:
            report = {k: v for k, v in report.items() if k != "healthy"}
            self.report = LossHealthReport(**report)
