"""W&B comparison: sample-prediction tables for every evaluation, and each run's headline numbers in its summary.

* `PredictionTables` (a Lightning callback) logs, after every validation and test pass, the task's
  sample rows `task.examples[prefix]` (id, reference, prediction) as the W&B table
  `{prefix}/predictions` with the global step — the zero-shot pass (step 0), each validation and
  the final test sit side by side in the run's media panel.
* `publish_summary(loggers, summary)` copies the comparison numbers of summary.json (baseline WER,
  best validation WER, test WER, hours, samples, samples/s, parameter counts, …) into the W&B run
  summary under the same names, so W&B's runs table and parallel-coordinates view compare runs
  without custom code, and `python -m whisper_exp.scaling --wandb-project …` reads them back.

Both leave other loggers (CSV, none) alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import lightning as L
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from whisper_exp.summary import RunSummary

# summary.json keys copied to the W&B run summary (scalars only; same names in both places).
COMPARISON_KEYS = RunSummary.comparison_keys()
TABLE_COLUMNS = ("step", "id", "reference", "prediction")
TABLE_NAME = "predictions"


def wandb_loggers(loggers: Iterable[Logger]) -> list[WandbLogger]:
    """The W&B loggers among `loggers`."""
    return [logger for logger in loggers if isinstance(logger, WandbLogger)]


def comparison_values(summary: RunSummary | Mapping[str, Any]) -> dict[str, Any]:
    """The scalar comparison numbers of a summary (non-finite and missing values left out)."""
    summary = summary if isinstance(summary, RunSummary) else RunSummary.from_dict(summary)
    values = {}
    for key in COMPARISON_KEYS:
        value = summary.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        values[key] = value
    return values


@rank_zero_only
def publish_summary(loggers: Iterable[Logger], summary: RunSummary | Mapping[str, Any]) -> dict[str, Any]:
    """Write the comparison numbers of `summary` into each W&B logger's run summary; returns them."""
    values = comparison_values(summary)
    for logger in wandb_loggers(loggers):
        logger.experiment.summary.update(values)
    return values


class PredictionTables(L.Callback):
    """Logs `pl_module.examples[prefix]` as a W&B table after each validation ("val") and test ("test") pass."""

    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule, prefix: str) -> None:
        loggers = wandb_loggers(trainer.loggers)
        rows = getattr(pl_module, "examples", {}).get(prefix) or []
        if not loggers or not rows or trainer.sanity_checking:
            return
        step = trainer.global_step
        data = [[step, row.get("id", ""), row.get("reference", ""), row.get("prediction", "")] for row in rows]
        for logger in loggers:
            logger.log_table(key=f"{prefix}/{TABLE_NAME}", columns=list(TABLE_COLUMNS), data=data, step=step)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer, pl_module, "val")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer, pl_module, "test")
