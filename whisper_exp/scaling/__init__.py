"""Scaling curves: from finished runs to fitted WER laws, extrapolations, tables and plots.

collect (local summary.json files | W&B public API) → records → study (slice, check, fit, predict)
→ report (markdown + CSV) and plots (PNG) → optionally a W&B run. Command: `python -m whisper_exp.scaling`.
"""

from whisper_exp.scaling.collect import CollectError, collect_local, collect_wandb
from whisper_exp.scaling.laws import DATA_LAW, JOINT_LAW, MODEL_LAW, FitError, FitSettings, LawFit, fit_law
from whisper_exp.scaling.records import Collection, Excluded, RunRecord, record_from_summary
from whisper_exp.scaling.study import StudyOptions, StudyResult, run_study

__all__ = [
    "DATA_LAW", "JOINT_LAW", "MODEL_LAW", "CollectError", "Collection", "Excluded", "FitError", "FitSettings",
    "LawFit", "RunRecord", "StudyOptions", "StudyResult", "collect_local", "collect_wandb", "fit_law",
    "record_from_summary", "run_study",
]
