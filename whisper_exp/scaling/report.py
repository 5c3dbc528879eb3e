"""Tables of a scaling study: fitted parameters with CIs, goodness of fit, predictions, the runs used.

Written as CSV (pandas) and as one markdown report (`scaling.md`) that also links the plots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from whisper_exp.scaling.laws import SYMBOLS
from whisper_exp.scaling.records import Collection
from whisper_exp.scaling.study import FitOutcome, StudyResult

REPORT_NAME = "scaling.md"
FITS_CSV = "fits.csv"
PREDICTIONS_CSV = "predictions.csv"
RUNS_CSV = "runs.csv"
PARAM_NAMES = ("E", "A", "alpha", "B", "beta")
SIGNIFICANT = 4
ZERO = 1e-12
# Lack-of-fit p-values below this are reported as "the law misses the points".
LACK_OF_FIT_LEVEL = 0.05


def fmt(value: Any) -> str:
    """A number to 4 significant digits; blanks for None/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        # Solver output at a zero bound (1e-20 and the like) is zero.
        return "0" if abs(value) < ZERO else f"{value:.{SIGNIFICANT}g}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub markdown table (written here because pandas' to_markdown needs the optional `tabulate`)."""
    if frame.empty:
        return "_(none)_\n"
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(fmt(v).replace("|", "\\|") for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"


def fits_frame(result: StudyResult) -> pd.DataFrame:
    """One row per attempted fit: parameters with CIs, goodness of fit, or the refusal."""
    rows = []
    for outcome in result.outcomes:
        row: dict[str, Any] = {"fit": outcome.fit_id, "kind": outcome.kind, "slice": outcome.label,
                               "law": outcome.form.formula(outcome.units), "points": len(outcome.points),
                               "sizes": len({p.level for p in outcome.points}), "held_out": len(outcome.held_out)}
        fit = outcome.fit
        if fit is None:
            row.update(status="refused", reason=outcome.refusal)
        else:
            intervals = fit.intervals()
            row.update(status="fitted", reason="")
            for name in PARAM_NAMES:
                if name in fit.params:
                    row.update({name: fit.params[name], f"{name}_low": intervals[name][0],
                                f"{name}_high": intervals[name][1]})
            row.update(rmse=fit.rmse, r2=fit.r2, lack_of_fit_p=fit.lack_of_fit_p, dof=fit.dof, space=fit.settings.space,
                       bootstrap_ok=len(fit.samples), bootstrap_failed=fit.bootstrap_failed,
                       zero_shot_wer=outcome.zero_shot)
        rows.append(row)
    return pd.DataFrame(rows)


def predictions_frame(result: StudyResult) -> pd.DataFrame:
    """One row per prediction, with its confidence band and, for held-out sizes, the measurement."""
    unit = result.options.size_unit
    rows = []
    for outcome in result.fitted:
        for p in outcome.predictions:
            inside = None if p.measured is None else bool(p.low <= p.measured <= p.high)
            rows.append({"fit": p.fit_id, "model": p.model, "params": p.params, f"size_{unit}": p.size,
                         "predicted_wer": p.wer, "ci_low": p.low, "ci_high": p.high, "pi_low": p.pi_low,
                         "pi_high": p.pi_high, "extrapolation": p.extrapolation, "measured_wer": p.measured,
                         "measured_runs": p.measured_runs or None, "measured_inside_ci": inside,
                         "measured_each": ", ".join(f"{wer:.4f}" for wer in p.measured_each) or None,
                         "runs_inside_pi": f"{p.runs_inside_pi}/{p.measured_runs}" if p.measured_runs else None})
    return pd.DataFrame(rows)


def runs_frame(collection: Collection) -> pd.DataFrame:
    """Every collected run: used for fitting, zero-shot reference, or excluded with the reason."""
    rows = [{"run": r.run_id, "origin": r.origin, "status": "used" if r.kind == "train" else "zero-shot reference",
             "reason": "", "model": r.model, "params": r.params, "data": r.data, "finetune": r.finetune,
             "train_samples": r.train_samples, "train_hours": r.train_hours, "seed": r.seed,
             "steps": r.global_steps, "test_wer": r.test_wer, "val_wer": r.val_wer,
             "baseline_val_wer": r.baseline_val_wer, "train_samples_per_s": r.train_samples_per_s,
             "wall_s": r.wall_s} for r in collection.runs]
    rows += [{"run": e.run_id, "origin": e.origin, "status": "excluded", "reason": e.reason}
             for e in collection.excluded]
    return pd.DataFrame(rows)


def law_text(outcome: FitOutcome) -> str:
    """The law and its fitted parameters, each followed by its confidence interval."""
    fit = outcome.fit
    assert fit is not None
    intervals = fit.intervals()

    def value(name: str) -> str:
        low, high = intervals[name]
        return f"{fmt(fit.params[name])} [{fmt(low)}, {fmt(high)}]"

    values = ", ".join(f"{SYMBOLS.get(name, name)} = {value(name)}" for name in fit.form.names)
    return f"{outcome.form.formula(outcome.units)} with {values}"


def goodness_text(outcome: FitOutcome) -> str:
    """RMSE, R² and the lack-of-fit test in words."""
    fit = outcome.fit
    assert fit is not None
    text = f"RMSE {fmt(fit.rmse)} WER, R² {fmt(fit.r2)}, {fit.n_points} points"
    p = fit.lack_of_fit_p
    if math.isnan(p):
        return text + ", lack-of-fit test not possible (needs seeds repeating ≥ parameters + 1 sizes)"
    verdict = ("the law misses the points by more than the seed-to-seed scatter" if p < LACK_OF_FIT_LEVEL
               else "the misfit is within the seed-to-seed scatter")
    return text + f", lack-of-fit p = {fmt(p)} ({verdict})"


def _summary_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return frame[[c for c in columns if c in frame.columns]] if not frame.empty else frame


def render_markdown(result: StudyResult, collection: Collection, images: dict[str, str], command: str) -> str:
    """The whole report as markdown."""
    settings = result.options.settings
    confidence = f"{settings.confidence:.0%}"
    lines = ["# Scaling curves", "", f"Command: `{command}`", "",
             f"Metric: {result.options.metric} WER; training-set size in {result.options.size_unit}; fit on "
             f"{settings.space} WER; {confidence} residual-bootstrap intervals ({settings.bootstrap} resamples, "
             f"seed {settings.seed}) on parameters and on the fitted mean WER.", "",
             f"Runs: {len(collection.training)} used, {len(collection.zero_shot)} zero-shot reference(s), "
             f"{len(collection.excluded)} excluded"
             + (f" ({', '.join(f'{n} {r}' for r, n in collection.exclusion_counts().items())})"
                if collection.excluded else "") + ".", ""]
    if result.fitted:
        lines += ["## Fitted laws", ""]
        for outcome in result.fitted:
            assert outcome.fit is not None
            lines += [f"**{outcome.label}** ({outcome.kind}): `{law_text(outcome)}` — {goodness_text(outcome)}, "
                      f"{len(outcome.fit.samples)}/{settings.bootstrap} bootstrap refits converged", ""]
    fits = fits_frame(result)
    columns = ["fit", "status", "points", "sizes", "held_out", "E", "A", "D0", "alpha", "B", "beta", "rmse", "r2",
               "lack_of_fit_p", "zero_shot_wer", "reason"]
    lines += ["## Fits", "", markdown_table(_summary_columns(fits, columns))]
    predictions = predictions_frame(result).dropna(axis="columns", how="all")
    lines += ["## Predictions", "", f"Fitted mean WER with its {confidence} confidence interval (ci, the mean's "
              f"uncertainty) and {confidence} prediction interval (pi, where one new run should land: seed-to-seed "
              "scatter included). Held-out runs are checked against the prediction interval.", "",
              markdown_table(predictions)]
    refused = [o for o in result.outcomes if o.fit is None]
    if refused or result.notes:
        lines += ["## Not fitted", ""]
        lines += [f"* **{o.label}** ({o.kind}): {o.refusal}" for o in refused]
        lines += [f"* {note}" for note in result.notes]
        lines.append("")
    if images:
        lines += ["## Plots", ""]
        lines += [f"![{fit_id}]({name})\n" for fit_id, name in images.items()]
    if collection.excluded:
        lines += ["## Excluded runs", ""]
        lines += [f"* `{e.run_id}`: {e.reason}" for e in collection.excluded]
        lines.append("")
    return "\n".join(lines)


def write_tables(out_dir: Path, result: StudyResult, collection: Collection, images: dict[str, str],
                 command: str) -> dict[str, Path]:
    """fits.csv, predictions.csv, runs.csv and scaling.md under `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"fits": out_dir / FITS_CSV, "predictions": out_dir / PREDICTIONS_CSV, "runs": out_dir / RUNS_CSV,
             "report": out_dir / REPORT_NAME}
    fits_frame(result).to_csv(paths["fits"], index=False)
    predictions_frame(result).to_csv(paths["predictions"], index=False)
    runs_frame(collection).to_csv(paths["runs"], index=False)
    paths["report"].write_text(render_markdown(result, collection, images, command))
    return paths
