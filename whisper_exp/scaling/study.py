"""From collected runs to fitted laws and predictions: slicing, checks, fits, extrapolations.

Runs are sliced so that each fit varies one thing: a *data* fit per (model, data, finetune) over
training-set size, a *model* fit per (data, finetune, training-set size) over parameter count, a
*joint* fit per (data, finetune) over both. Before fitting, a slice must have enough distinct sizes
(parameters + 1 on a 1-D law; ≥ 3 per axis and parameters + 1 cells on the joint law) and WER must
fall with size (Kendall's τ of the per-size means < 0). A slice that fails a check, or whose fit
fails (`FitError`), is reported with the reason and gets no curve.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import kendalltau

from whisper_exp.scaling.catalog import model_params
from whisper_exp.scaling.laws import LAWS, FitError, FitSettings, LawFit, LawForm, fit_law
from whisper_exp.scaling.records import RunRecord

SIZE_UNITS = {"hours": "hours", "samples": "utterances"}
METRICS = ("test", "val")
FIT_KINDS = tuple(LAWS)
# What --fit auto tries (the offset form only on request: it needs one more size than the plain data law).
AUTO_KINDS = ("data", "model", "joint")
# Laws over training-set size alone (sliced and predicted alike).
DATA_KINDS = ("data", "data_offset")
# N is fitted in millions of parameters (keeps A readable: the excess WER of a 1M-parameter model).
PARAMS_PER_UNIT = 1e6
PARAMS_UNIT = "M params"
SLICE_TEXT = {"data": "(model, data, finetune) slice", "data_offset": "(model, data, finetune) slice",
              "model": "(data, finetune, training size) slice",
              "joint": "(data, finetune) slice"}
# Joint law: distinct values needed on each axis (two values cannot separate a coefficient from its exponent).
MIN_JOINT_LEVELS = 3


@dataclass(frozen=True)
class StudyOptions:
    """What to fit and predict."""

    fits: tuple[str, ...] = ("auto",)
    size_unit: str = "hours"
    metric: str = "test"
    predict_sizes: tuple[float, ...] = ()
    predict_models: tuple[str, ...] = ()
    holdout_above: float | None = None
    settings: FitSettings = field(default_factory=FitSettings)

    def __post_init__(self) -> None:
        if self.size_unit not in SIZE_UNITS:
            raise ValueError(f"size unit must be one of {tuple(SIZE_UNITS)}, got {self.size_unit!r}")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        unknown = set(self.fits) - {"auto", *FIT_KINDS}
        if unknown:
            raise ValueError(f"unknown fit kind(s) {sorted(unknown)}: choose from auto, {', '.join(FIT_KINDS)}")
        if any(size <= 0 for size in self.predict_sizes):
            raise ValueError("prediction sizes must be > 0")


@dataclass(frozen=True)
class Point:
    """One run as a point of a fit."""

    record: RunRecord
    x: tuple[float, ...]
    wer: float
    level: tuple[int, ...]  # nominal size per axis: train_samples for D, parameter count for N


@dataclass(frozen=True)
class Prediction:
    """Fitted mean WER (with confidence band) at one point, and the measurement there if held out."""

    fit_id: str
    model: str | None
    params: int | None
    size: float | None
    wer: float
    low: float
    high: float
    extrapolation: str
    measured: float | None = None
    measured_runs: int = 0
    # Prediction interval of a single run (seed scatter included) and the held-out runs' own WERs.
    pi_low: float = float("nan")
    pi_high: float = float("nan")
    measured_each: tuple[float, ...] = ()

    @property
    def runs_inside_pi(self) -> int:
        """How many held-out runs fall inside the prediction interval."""
        return sum(self.pi_low <= wer <= self.pi_high for wer in self.measured_each)


@dataclass
class FitOutcome:
    """One slice: its points, and either a fit with predictions or the reason there is none."""

    fit_id: str
    kind: str
    label: str
    form: LawForm
    units: tuple[str, ...]
    points: list[Point]
    held_out: list[Point] = field(default_factory=list)
    fit: LawFit | None = None
    refusal: str | None = None
    predictions: list[Prediction] = field(default_factory=list)
    zero_shot: float | None = None


@dataclass
class StudyResult:
    """Every attempted fit, plus notes on what was not applicable."""

    options: StudyOptions
    outcomes: list[FitOutcome]
    notes: list[str]

    @property
    def fitted(self) -> list[FitOutcome]:
        """Outcomes with a fitted law."""
        return [outcome for outcome in self.outcomes if outcome.fit is not None]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def _size(record: RunRecord, unit: str) -> float | None:
    return record.train_hours if unit == "hours" else float(record.train_samples)


def _slice_key(kind: str) -> Callable[[RunRecord], tuple]:
    return {"data": lambda r: (r.model, r.data, r.finetune), "data_offset": lambda r: (r.model, r.data, r.finetune),
            "model": lambda r: (r.data, r.finetune, r.train_samples),
            "joint": lambda r: (r.data, r.finetune)}[kind]


def _label(kind: str, key: tuple) -> str:
    if kind == "model":
        return f"{key[0]} · {key[1]} · {key[2]} training utterances"
    return " · ".join(str(part) for part in key)


def _points(kind: str, records: Sequence[RunRecord], options: StudyOptions) -> tuple[list[Point], list[str]]:
    """Points of one slice, and a note per run that lacks a value this fit needs."""
    uses_size, uses_params = kind in (*DATA_KINDS, "joint"), kind in ("model", "joint")
    points, missing = [], []
    for record in records:
        wer, size, params = record.metric(options.metric), _size(record, options.size_unit), record.params
        absent = [name for name, value, needed in (("WER", wer, True), ("training size", size, uses_size),
                                                   ("parameter count", params, uses_params))
                  if needed and value is None]
        if absent or wer is None:
            missing.append(f"{record.run_id}: no {', '.join(absent)}")
            continue
        x = ((params or 0) / PARAMS_PER_UNIT,) * uses_params + (size or 0.0,) * uses_size
        level = (params or 0,) * uses_params + (record.train_samples,) * uses_size
        points.append(Point(record, x, wer, level))
    return points, missing


def _levels(points: Sequence[Point], axis: int) -> dict[int, list[Point]]:
    by_level: dict[int, list[Point]] = defaultdict(list)
    for point in points:
        by_level[point.level[axis]].append(point)
    return dict(sorted(by_level.items()))


def _describe_levels(by_level: dict[int, list[Point]], axis_name: str) -> str:
    return ", ".join(f"{_level_text(level, axis_name)}: {np.mean([p.wer for p in pts]):.4f}"
                     for level, pts in by_level.items())


def _level_text(level: int, axis_name: str) -> str:
    return f"{level / PARAMS_PER_UNIT:g}M" if axis_name == "N" else f"{level}"


def check_slice(form: LawForm, points: Sequence[Point]) -> str | None:
    """Why these points cannot support `form` (too few sizes, WER not decreasing), or None."""
    n_params = len(form.names)
    cells = {point.level for point in points}
    for axis, axis_name in enumerate(form.axes):
        by_level = _levels(points, axis)
        needed = n_params + 1 if len(form.axes) == 1 else MIN_JOINT_LEVELS
        what = "model sizes" if axis_name == "N" else "training-set sizes"
        if len(by_level) < needed:
            levels = ", ".join(_level_text(level, axis_name) for level in by_level) or "none"
            return (f"too few points: {len(by_level)} distinct {what} ({levels}); the {form.kind} law has "
                    f"{n_params} parameters and needs at least {needed}")
        means = [np.mean([p.wer for p in pts]) for pts in by_level.values()]
        tau = kendalltau(list(by_level), means).statistic
        if not np.isfinite(tau) or tau >= 0:
            return (f"WER does not decrease with {axis_name} (mean WER by {what}: "
                    f"{_describe_levels(by_level, axis_name)}); fitting a decreasing power law would make it up")
    if len(form.axes) > 1 and len(cells) < n_params + 1:
        return (f"too few points: {len(cells)} distinct (N, D) combinations; the joint law has {n_params} "
                f"parameters and needs at least {n_params + 1}")
    return None


def _extrapolation(values: Sequence[float], points: Sequence[Point], axes: tuple[str, ...]) -> str:
    """How far a prediction point lies outside the fitted range, per axis."""
    parts = []
    for axis, (value, name) in enumerate(zip(values, axes, strict=True)):
        low = min(point.x[axis] for point in points)
        high = max(point.x[axis] for point in points)
        if value > high * (1 + 1e-9):
            parts.append(f"{name} ×{value / high:.3g} above largest")
        elif value < low * (1 - 1e-9):
            parts.append(f"{name} ×{low / value:.3g} below smallest")
    return "; ".join(parts) or "within range"


@dataclass(frozen=True)
class _Target:
    """Where to predict: a model (name, parameter count) and/or a size, and the held-out runs measured there."""

    model: str | None = None
    params: int | None = None
    size: float | None = None
    measured: tuple[Point, ...] = ()


def _held_out_targets(outcome: FitOutcome) -> list[_Target]:
    """One target per held-out (model, size level), at the mean size of its runs."""
    groups: dict[tuple[str, int], list[Point]] = defaultdict(list)
    for point in outcome.held_out:
        groups[(point.record.model, point.level[-1])].append(point)
    return [_Target(model if outcome.kind == "joint" else None, pts[0].record.params if outcome.kind == "joint"
                    else None, float(np.mean([p.x[-1] for p in pts])), tuple(pts))
            for (model, _), pts in sorted(groups.items())]


def _targets(outcome: FitOutcome, options: StudyOptions) -> list[_Target]:
    """The requested sizes (data), models (model), models × sizes (joint), then the held-out runs."""
    if outcome.kind in DATA_KINDS:
        return [_Target(size=size) for size in options.predict_sizes] + _held_out_targets(outcome)
    models = [(name, model_params(name)) for name in options.predict_models]
    if outcome.kind == "model":
        return [_Target(name, params) for name, params in models]
    observed = sorted({(p.record.model, p.record.params) for p in outcome.points}, key=lambda item: item[1] or 0)
    sizes = list(options.predict_sizes) or [max(point.x[1] for point in outcome.points)]
    return [_Target(name, params, size) for name, params in (models or observed) for size in sizes] + \
        _held_out_targets(outcome)


def _predict(outcome: FitOutcome, options: StudyOptions) -> list[Prediction]:
    """Fitted mean WER and its band at every target; the measurement where runs were held out."""
    fit = outcome.fit
    assert fit is not None
    predictions = []
    for target in _targets(outcome, options):
        n = (target.params or 0) / PARAMS_PER_UNIT
        x = [n, target.size] if outcome.kind == "joint" else [n] if outcome.kind == "model" else [target.size]
        low, high = fit.band(np.array([x]))
        pi_low, pi_high = fit.prediction_band(np.array([x]))
        measured = [p.wer for p in target.measured]
        predictions.append(Prediction(
            fit_id=outcome.fit_id, model=target.model, params=target.params, size=target.size,
            wer=float(fit.predict(np.array([x]))[0]), low=float(low[0]), high=float(high[0]),
            extrapolation=_extrapolation(x, outcome.points, outcome.form.axes),
            measured=float(np.mean(measured)) if measured else None, measured_runs=len(measured),
            pi_low=float(pi_low[0]), pi_high=float(pi_high[0]), measured_each=tuple(measured)))
    return predictions


def _applicable(kind: str, slices: dict[tuple, list[RunRecord]]) -> bool:
    """Whether some slice varies along this kind's axes at all (auto mode skips the rest quietly)."""
    for records in slices.values():
        models = {r.params for r in records}
        sizes = {r.train_samples for r in records}
        if (kind in DATA_KINDS and len(sizes) > 1) or (kind == "model" and len(models) > 1) or (
                kind == "joint" and len(models) > 1 and len(sizes) > 1):
            return True
    return False


def zero_shot_reference(records: Sequence[RunRecord], zero_shot: Sequence[RunRecord], metric: str) -> float | None:
    """The un-tuned model's WER on the same metric for these runs' model and data, if it was measured."""
    keys = {(r.model, r.data) for r in records}
    values = [r.metric(metric) for r in zero_shot if (r.model, r.data) in keys]
    if metric == "val":
        values += [r.baseline_val_wer for r in records]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def run_study(training: Sequence[RunRecord], zero_shot: Sequence[RunRecord], options: StudyOptions) -> StudyResult:
    """Slice the runs, check each slice, fit, predict."""
    kinds = AUTO_KINDS if "auto" in options.fits else tuple(k for k in FIT_KINDS if k in options.fits)
    outcomes, notes = [], []
    units = {"D": SIZE_UNITS[options.size_unit], "N": PARAMS_UNIT}
    for kind in kinds:
        form = LAWS[kind]
        slices: dict[tuple, list[RunRecord]] = defaultdict(list)
        for record in training:
            slices[_slice_key(kind)(record)].append(record)
        if "auto" in options.fits and not _applicable(kind, slices):
            what = {"data": "several training-set sizes", "data_offset": "several training-set sizes",
                    "model": "several model sizes",
                    "joint": "both several model sizes and several training-set sizes"}[kind]
            notes.append(f"{kind} fit not applicable: no {SLICE_TEXT[kind]} has {what}")
            continue
        for key, records in sorted(slices.items(), key=lambda item: str(item[0])):
            label = _label(kind, key)
            points, missing = _points(kind, records, options)
            notes += [f"{kind} fit [{label}] skips {text}" for text in missing]
            held = [p for p in points if kind != "model" and options.holdout_above is not None
                    and p.x[-1] > options.holdout_above]
            fitted = [p for p in points if p not in held]
            outcome = FitOutcome(fit_id=_slug(f"{kind}-{label}"), kind=kind, label=label, form=form,
                                 units=tuple(units[a] for a in form.axes), points=fitted, held_out=held,
                                 zero_shot=zero_shot_reference(records, zero_shot, options.metric))
            outcome.refusal = check_slice(form, fitted)
            if outcome.refusal is None:
                try:
                    index = {level: i for i, level in enumerate(sorted({p.level for p in fitted}))}
                    groups = np.array([index[p.level] for p in fitted])
                    outcome.fit = fit_law(form, np.array([p.x for p in fitted]), np.array([p.wer for p in fitted]),
                                          options.settings, groups=groups)
                except FitError as error:
                    outcome.refusal = f"fit failed: {error}"
            if outcome.fit is not None:
                outcome.predictions = _predict(outcome, options)
            outcomes.append(outcome)
    if not training:
        notes.append("no usable training runs")
    uses_models = {o.kind for o in outcomes if o.fit is not None} & {"model", "joint"}
    if options.predict_models and not uses_models:
        notes.append("predictions for models (" + ", ".join(options.predict_models) + ") need a fitted model or "
                     "joint law; none was fitted")
    return StudyResult(options=options, outcomes=outcomes, notes=notes)
