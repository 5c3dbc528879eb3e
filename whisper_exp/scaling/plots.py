"""PNG plots of fitted laws on log-log axes: runs, fit, confidence band, floor, predictions, held-out runs.

Figures are built with matplotlib's object API (`Figure`, no pyplot state), so plotting works headless
and inside other programs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from whisper_exp.scaling.study import PARAMS_PER_UNIT, FitOutcome, Prediction

CURVE_POINTS = 200
# The curve spans the points and predictions, widened by this factor on each side (log axes).
MARGIN = 1.5
FIGSIZE = (7.5, 5.0)
DPI = 120
AXIS_TITLES = {"D": "training set", "N": "model size"}
# The floor E is drawn when it lies above this fraction of the lowest point or prediction interval.
FLOOR_SHOWN_ABOVE = 0.1


def _axis_label(outcome: FitOutcome, axis: int) -> str:
    name = outcome.form.axes[axis]
    return f"{AXIS_TITLES[name]} {name} ({outcome.units[axis]})"


def _wer_axis(ax: Axes, metric: str) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel(f"{metric} WER")
    ax.grid(True, which="both", alpha=0.3)


def _grid(values: list[float]) -> np.ndarray:
    return np.geomspace(min(values) / MARGIN, max(values) * MARGIN, CURVE_POINTS)


def _plot_one_axis(ax: Axes, outcome: FitOutcome) -> None:
    fit = outcome.fit
    assert fit is not None
    xs = [p.x[0] for p in outcome.points + outcome.held_out]
    xs += [p.size if outcome.kind != "model" else (p.params or 0) / PARAMS_PER_UNIT for p in outcome.predictions]
    grid = _grid([x for x in xs if x and x > 0])
    pi_low, pi_high = fit.prediction_band(grid[:, None])
    ax.fill_between(grid, pi_low, pi_high, alpha=0.12, color="C0",
                    label=f"{fit.settings.confidence:.0%} prediction interval (one run)")
    low, high = fit.band(grid[:, None])
    ax.fill_between(grid, low, high, alpha=0.25, color="C0", label=f"{fit.settings.confidence:.0%} confidence band")
    ax.plot(grid, fit.predict(grid[:, None]), color="C0", label="fit")
    ax.scatter([p.x[0] for p in outcome.points], [p.wer for p in outcome.points], color="C0", edgecolor="k",
               zorder=3, label=f"runs ({len(outcome.points)})")
    if outcome.held_out:
        ax.scatter([p.x[0] for p in outcome.held_out], [p.wer for p in outcome.held_out], facecolor="none",
                   edgecolor="C3", marker="s", s=60, zorder=3, label="held-out runs (not fitted)")
    _common_marks(ax, outcome, [(p.size if outcome.kind != "model" else (p.params or 0) / PARAMS_PER_UNIT, p)
                                for p in outcome.predictions])


def _plot_joint(ax: Axes, outcome: FitOutcome) -> None:
    fit = outcome.fit
    assert fit is not None
    models: dict[float, str] = {p.x[0]: p.record.model for p in outcome.points}
    models.update({(p.params or 0) / PARAMS_PER_UNIT: str(p.model) for p in outcome.predictions})
    sizes = [p.x[1] for p in outcome.points + outcome.held_out] + [p.size or 0 for p in outcome.predictions]
    grid = _grid([s for s in sizes if s > 0])
    for index, (n, name) in enumerate(sorted(models.items())):
        color = f"C{index % 10}"
        x = np.stack([np.full_like(grid, n), grid], axis=1)
        low, high = fit.band(x)
        ax.fill_between(grid, low, high, alpha=0.15, color=color)
        ax.plot(grid, fit.predict(x), color=color, label=f"{name} ({n:g}M)")
        mine = [p for p in outcome.points if p.x[0] == n]
        ax.scatter([p.x[1] for p in mine], [p.wer for p in mine], color=color, edgecolor="k", zorder=3)
        held = [p for p in outcome.held_out if p.x[0] == n]
        ax.scatter([p.x[1] for p in held], [p.wer for p in held], facecolor="none", edgecolor=color, marker="s",
                   s=60, zorder=3)
    _common_marks(ax, outcome, [(p.size or 0, p) for p in outcome.predictions])


def _common_marks(ax: Axes, outcome: FitOutcome, predictions: list[tuple[float, Prediction]]) -> None:
    """Floor E, zero-shot reference, predictions with their intervals."""
    fit = outcome.fit
    assert fit is not None
    floor = fit.params["E"]
    lowest = min([p.wer for p in outcome.points] + [p.low for _, p in predictions if p.low > 0])
    if floor >= FLOOR_SHOWN_ABOVE * lowest:
        ax.axhline(floor, color="grey", linestyle="--", linewidth=1, label=f"floor E = {floor:.3g}")
    else:
        # A floor decades below every point would squash the data into the top of the log axis: named only.
        ax.plot([], [], color="grey", linestyle="--", linewidth=1, label=f"floor E = {floor:.3g} (below the axis)")
    if outcome.zero_shot is not None:
        ax.axhline(outcome.zero_shot, color="C2", linestyle=":", linewidth=1.5,
                   label=f"zero-shot {outcome.zero_shot:.3g}")
    for index, (x, prediction) in enumerate(predictions):
        errors = [[max(prediction.wer - prediction.low, 0)], [max(prediction.high - prediction.wer, 0)]]
        ax.errorbar([x], [prediction.wer], yerr=errors, fmt="D", color="C1", capsize=4, zorder=4,
                    label="predictions (CI)" if index == 0 else None)
        ax.annotate(f"{prediction.wer:.3g}", (x, prediction.wer), textcoords="offset points", xytext=(6, 6),
                    fontsize=8, color="C1")


def plot_fit(outcome: FitOutcome, path: Path, metric: str) -> Path:
    """Write the PNG of one fitted outcome to `path`."""
    if outcome.fit is None:
        raise ValueError(f"{outcome.fit_id}: nothing to plot ({outcome.refusal})")
    figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    ax = figure.add_subplot()
    if outcome.kind == "joint":
        _plot_joint(ax, outcome)
        ax.set_xlabel(_axis_label(outcome, 1))
    else:
        _plot_one_axis(ax, outcome)
        ax.set_xlabel(_axis_label(outcome, 0))
    ax.set_xscale("log")
    _wer_axis(ax, metric)
    params = ", ".join(f"{name} = {value:.3g}" for name, value in outcome.fit.params.items())
    ax.set_title(f"{outcome.label}\n{outcome.form.formula()}: {params}", fontsize=9)
    ax.legend(fontsize=8, loc="best")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
