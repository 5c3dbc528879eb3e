"""Log a scaling study's plots and tables to a W&B run (job type "scaling") in the sweep's group.

`resolve_mode("auto")` logs online only when W&B credentials exist (the same test as the training
logger), and otherwise not at all: a scaling study is a local report first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import LoggerConfig
from whisper_exp.scaling.report import fits_frame, predictions_frame
from whisper_exp.scaling.study import StudyResult

WANDB_MODES = ("auto", "online", "offline", "off")
JOB_TYPE = "scaling"


def default_project() -> str:
    """The W&B project training runs log to (`logger.project` of logger=wandb, from its YAML)."""
    return typed_defaults(LoggerConfig).project  # LoggerConfig's home: conf/logger/wandb.yaml (+ its _base.yaml)


def resolve_mode(mode: str) -> str | None:
    """The W&B mode to log the study in, or None for not at all."""
    if mode not in WANDB_MODES:
        raise ValueError(f"W&B mode must be one of {WANDB_MODES}, got {mode!r}")
    if mode == "auto":
        from whisper_exp.tracking.loggers import wandb_credentials_present  # imports Lightning: only when needed

        return "online" if wandb_credentials_present() else None
    return None if mode == "off" else mode


def _table(frame: pd.DataFrame) -> Any:
    import wandb

    # Columns mix numbers and blanks (refused fits, predictions without a measurement).
    return wandb.Table(dataframe=frame.astype(object).where(frame.notna(), None), allow_mixed_types=True)


def log_study(result: StudyResult, images: dict[str, Path], *, project: str, entity: str | None,
              group: str | None, mode: str, out_dir: Path, config: dict[str, Any]) -> str:
    """Log plots, the fits and predictions tables and the fitted parameters; returns the run's URL or dir."""
    import wandb

    run = wandb.init(project=project, entity=entity, group=group, job_type=JOB_TYPE, mode=mode,  # type: ignore[arg-type]
                     name=f"scaling-{group or out_dir.name}", dir=str(out_dir), config=config)
    try:
        run.log({f"scaling/{fit_id}": wandb.Image(str(path)) for fit_id, path in images.items()})
        run.log({"scaling/fits": _table(fits_frame(result)), "scaling/predictions": _table(predictions_frame(result))})
        run.summary.update({f"{outcome.fit_id}/{name}": value for outcome in result.fitted
                            for name, value in outcome.fit.params.items()})  # type: ignore[union-attr]
        where = run.url or str(Path(run.dir).parent)
    finally:
        run.finish()
    return where
