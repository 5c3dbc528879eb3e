"""Saturating power laws for WER, their least-squares fit, and residual-bootstrap confidence intervals.

Forms (x in the axis' unit: D in hours or utterances, N in millions of parameters):

* data   WER(D)    = E + A·D^-α
* model  WER(N)    = E + A·N^-α
* joint  WER(N, D) = E + A·N^-α + B·D^-β
* data_offset  WER(D) = E + A·(D + D₀)^-α (a data-size offset; `--fit data_offset`)

E ≥ 0 is the floor no amount of data/parameters removes; A, B ≥ 0; exponents in
[`MIN_EXPONENT`, `max_exponent`]. The fit minimises squared residuals of log WER by default (every
point weighs by its relative error, as on the log-log plot; `space="linear"` fits WER itself).

Fitting is done in two steps with scipy: for fixed exponents the law is linear in (E, A[, B]), so a
grid over the exponents with non-negative least squares (`scipy.optimize.nnls`) finds the basin
(variable projection), then `scipy.optimize.least_squares` (trust-region reflective, bounded,
analytic Jacobian) polishes all parameters together. A fit whose exponent runs to a bound, whose
coefficient collapses to zero, or whose solver stops without converging raises `FitError` — no curve
is made up.

Prediction intervals (`LawFit.prediction_band`): each bootstrap curve plus one resampled residual — where a single
new run (one seed) should land, seed-to-seed scatter included; the check that extrapolation can be trusted.

Confidence intervals: residual bootstrap (resample the fit's centred, leverage-scaled residuals,
refit, repeat), percentile intervals for every parameter and for the fitted mean WER at any point.
Residual rather than case resampling because scaling grids are small: resampling runs would often
drop whole sizes and leave the curve unidentifiable.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import OptimizeResult, least_squares, nnls
from scipy.stats import f as f_distribution

# Lower bound of every exponent: at 0 the power term is a constant and E, A are not separable.
MIN_EXPONENT = 1e-3
# Predictions are clipped at this floor before taking logs (a law with E = A = 0 predicts 0).
LOG_FLOOR = 1e-12
# How close (relative) an exponent may come to a bound before the fit is called a boundary solution.
BOUND_TOLERANCE = 1e-3
SPACES = ("log", "linear")
# Residuals drawn per bootstrap curve for a prediction interval.
PI_DRAWS_PER_CURVE = 20
# How parameter names are written in formulas and plots (tables keep the ASCII names).
SYMBOLS = {"alpha": "α", "beta": "β"}


class FitError(RuntimeError):
    """A law could not be fitted honestly; the message says why and what would help."""


@dataclass(frozen=True)
class LawForm:
    """E + Σ_k coef_k · x_k^-exp_k over one or two axes."""

    kind: str
    axes: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names in the order of θ: E, then (coefficient, exponent) per axis."""
        out = ["E"]
        for coef, exponent in list(zip(("A", "B"), ("alpha", "beta"), strict=True))[: len(self.axes)]:
            out += [coef, exponent]
        return tuple(out)

    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """WER at the rows of `x` (shape (n, len(axes)))."""
        out = np.full(len(x), float(theta[0]))
        for k in range(len(self.axes)):
            out = out + theta[1 + 2 * k] * x[:, k] ** -theta[2 + 2 * k]
        return out

    def jacobian(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """d prediction / d θ, shape (n, len(θ))."""
        columns = [np.ones(len(x))]
        for k in range(len(self.axes)):
            power = x[:, k] ** -theta[2 + 2 * k]
            columns += [power, -theta[1 + 2 * k] * power * np.log(x[:, k])]
        return np.stack(columns, axis=1)

    def formula(self, units: tuple[str, ...] | None = None) -> str:
        """The law as text, e.g. "WER(D) = E + A·D^-α (D in hours)"."""
        terms = " + ".join(f"{c}·{a}^-{SYMBOLS[e]}" for a, c, e in zip(self.axes, self.names[1::2],
                                                                            self.names[2::2], strict=True))
        where = f" ({', '.join(f'{a} in {u}' for a, u in zip(self.axes, units, strict=True))})" if units else ""
        return f"WER({', '.join(self.axes)}) = E + {terms}{where}"

    def terms(self) -> list[tuple[int, int, int]]:
        """(axis, index of its coefficient in θ, index of its exponent in θ) per power term."""
        return [(k, 1 + 2 * k, 2 + 2 * k) for k in range(len(self.axes))]

    def bounds(self, max_exponent: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of θ."""
        lower = [0.0] + [0.0, MIN_EXPONENT] * len(self.axes)
        upper = [np.inf] + [np.inf, max_exponent] * len(self.axes)
        return np.array(lower), np.array(upper)

    def grid(self, x: np.ndarray, settings: FitSettings) -> Iterator[tuple[float, ...]]:
        """Starting values of the non-linear parameters (the exponents) to try."""
        return itertools.product(np.geomspace(MIN_EXPONENT * 10, settings.max_exponent, settings.grid_points),
                                 repeat=len(self.axes))

    def basis(self, x: np.ndarray, nonlinear: tuple[float, ...]) -> np.ndarray:
        """With the non-linear parameters fixed the law is linear in (E, coefficients): its columns."""
        return np.stack([np.ones(len(x))] + [x[:, k] ** -e for k, e in enumerate(nonlinear)], axis=1)

    def assemble(self, linear: np.ndarray, nonlinear: tuple[float, ...]) -> np.ndarray:
        """θ from the linear coefficients (E, A[, B]) and the non-linear parameters."""
        theta = np.empty(1 + 2 * len(self.axes))
        theta[0] = linear[0]
        theta[1::2], theta[2::2] = linear[1:], nonlinear
        return theta


class OffsetDataLaw(LawForm):
    """WER(D) = E + A·(D + D₀)^-α: a data-size offset (D₀ ≥ 0, the data the pretrained model is "worth"), which
    bends the small-data end of the curve where a plain power law runs too steep (Hernandez et al. 2021)."""

    def __init__(self) -> None:
        super().__init__("data_offset", ("D",))

    @property
    def names(self) -> tuple[str, ...]:
        return ("E", "A", "D0", "alpha")

    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        return theta[0] + theta[1] * (x[:, 0] + theta[2]) ** -theta[3]

    def jacobian(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        shifted = x[:, 0] + theta[2]
        power = shifted ** -theta[3]
        return np.stack([np.ones(len(x)), power, -theta[1] * theta[3] * power / shifted,
                         -theta[1] * power * np.log(shifted)], axis=1)

    def formula(self, units: tuple[str, ...] | None = None) -> str:
        where = f" (D in {units[0]})" if units else ""
        return f"WER(D) = E + A·(D + D0)^-α{where}"

    def terms(self) -> list[tuple[int, int, int]]:
        return [(0, 1, 3)]

    def bounds(self, max_exponent: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # D0 up to 10× the largest size: beyond that the curve is flat over the data and D0 is not identified.
        return np.array([0.0, 0.0, 0.0, MIN_EXPONENT]), np.array([np.inf, np.inf, 10 * float(x.max()), max_exponent])

    def grid(self, x: np.ndarray, settings: FitSettings) -> Iterator[tuple[float, ...]]:
        offsets = np.concatenate([[0.0], np.geomspace(float(x.min()) / 10, 10 * float(x.max()), 12)])
        exponents = np.geomspace(MIN_EXPONENT * 10, settings.max_exponent, settings.grid_points)
        return ((offset, exponent) for offset in offsets for exponent in exponents)

    def basis(self, x: np.ndarray, nonlinear: tuple[float, ...]) -> np.ndarray:
        offset, exponent = nonlinear
        return np.stack([np.ones(len(x)), (x[:, 0] + offset) ** -exponent], axis=1)

    def assemble(self, linear: np.ndarray, nonlinear: tuple[float, ...]) -> np.ndarray:
        return np.array([linear[0], linear[1], nonlinear[0], nonlinear[1]])


DATA_LAW = LawForm("data", ("D",))
DATA_OFFSET_LAW = OffsetDataLaw()
MODEL_LAW = LawForm("model", ("N",))
JOINT_LAW = LawForm("joint", ("N", "D"))
LAWS = {law.kind: law for law in (DATA_LAW, DATA_OFFSET_LAW, MODEL_LAW, JOINT_LAW)}


@dataclass(frozen=True)
class FitSettings:
    """How laws are fitted and how their uncertainty is estimated."""

    space: str = "log"
    max_exponent: float = 3.0
    grid_points: int = 40
    bootstrap: int = 1000
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise ValueError(f"fit space must be one of {SPACES}, got {self.space!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if self.max_exponent <= MIN_EXPONENT:
            raise ValueError(f"max_exponent must exceed {MIN_EXPONENT}, got {self.max_exponent}")
        if self.bootstrap < 0 or self.grid_points < 2:
            raise ValueError("bootstrap must be >= 0 and grid_points >= 2")


@dataclass
class LawFit:
    """A fitted law: point estimate, goodness of fit and bootstrap samples of θ."""

    form: LawForm
    theta: np.ndarray
    n_points: int
    rmse: float
    r2: float
    settings: FitSettings
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    bootstrap_failed: int = 0
    lack_of_fit_p: float = float("nan")
    # Centred, leverage-inflated residuals in the fit space: the scatter of single runs (seeds) about the law.
    residuals: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def dof(self) -> int:
        """Residual degrees of freedom (points − parameters)."""
        return self.n_points - len(self.theta)

    @property
    def params(self) -> dict[str, float]:
        """{name: estimate}."""
        return dict(zip(self.form.names, map(float, self.theta), strict=True))

    def _quantiles(self) -> tuple[float, float]:
        tail = (1 - self.settings.confidence) / 2 * 100
        return tail, 100 - tail

    def intervals(self) -> dict[str, tuple[float, float]]:
        """{name: (low, high)} percentile intervals (NaN without bootstrap samples)."""
        if not len(self.samples):
            return {name: (float("nan"), float("nan")) for name in self.form.names}
        low, high = np.percentile(self.samples, self._quantiles(), axis=0)
        return {name: (float(lo), float(hi)) for name, lo, hi in zip(self.form.names, low, high, strict=True)}

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Fitted mean WER at the rows of `x`."""
        return self.form.predict(self.theta, np.atleast_2d(np.asarray(x, dtype=float)))

    def band(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Percentile confidence band of the fitted mean WER at the rows of `x`."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if not len(self.samples):
            nan = np.full(len(x), np.nan)
            return nan, nan
        curves = np.stack([self.form.predict(theta, x) for theta in self.samples])
        low, high = np.percentile(curves, self._quantiles(), axis=0)
        return low, high


    def prediction_band(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Percentile prediction interval of one new run's WER at the rows of `x`.

        Where `band` covers only the fitted mean, this adds the scatter of single runs about the law (one
        resampled residual per bootstrap curve, in the fit space): seed-to-seed variation and misfit both widen
        it. The interval a new run at that size should fall inside.
        """
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if not len(self.samples) or not len(self.residuals):
            nan = np.full(len(x), np.nan)
            return nan, nan
        rng = np.random.default_rng(self.settings.seed + 1)
        curves = np.stack([_transform(self.form.predict(theta, x), self.settings.space) for theta in self.samples])
        # Several residual draws per curve: the percentiles of a single draw are ragged along a plotted grid.
        noisy = curves[None] + rng.choice(self.residuals, size=(PI_DRAWS_PER_CURVE, *curves.shape), replace=True)
        runs = np.exp(noisy) if self.settings.space == "log" else noisy
        low, high = np.percentile(runs.reshape(-1, len(x)), self._quantiles(), axis=0)
        return low, high


def _transform(values: np.ndarray, space: str) -> np.ndarray:
    return np.log(np.maximum(values, LOG_FLOOR)) if space == "log" else values


def _initial_guess(form: LawForm, x: np.ndarray, y: np.ndarray, settings: FitSettings) -> np.ndarray:
    """Best grid point over the non-linear parameters, with (E, coefficients) from non-negative least squares."""
    # Weighting rows by 1/y makes the linear problem approximate relative (log-space) error.
    weights = 1 / y if settings.space == "log" else np.ones_like(y)
    target = _transform(y, settings.space)
    best, best_loss = None, np.inf
    for nonlinear in form.grid(x, settings):
        basis = form.basis(x, nonlinear)
        if not np.all(np.isfinite(basis)):
            continue
        coefs, _ = nnls(basis * weights[:, None], y * weights)
        theta = form.assemble(coefs, nonlinear)
        loss = float(np.sum((_transform(form.predict(theta, x), settings.space) - target) ** 2))
        if loss < best_loss:
            best, best_loss = theta, loss
    if best is None:
        raise FitError("no starting point: every exponent on the grid overflows (sizes too extreme?)")
    return best


def _solve(form: LawForm, x: np.ndarray, y: np.ndarray, start: np.ndarray, settings: FitSettings) -> OptimizeResult:
    lower, upper = form.bounds(settings.max_exponent, x)
    target = _transform(y, settings.space)

    def residuals(theta: np.ndarray) -> np.ndarray:
        return _transform(form.predict(theta, x), settings.space) - target

    def jacobian(theta: np.ndarray) -> np.ndarray:
        jac = form.jacobian(theta, x)
        if settings.space == "log":
            jac = jac / np.maximum(form.predict(theta, x), LOG_FLOOR)[:, None]
        return jac

    return least_squares(residuals, np.clip(start, lower, upper), jac=jacobian, bounds=(lower, upper),
                         method="trf", x_scale="jac")


def _check_solution(form: LawForm, theta: np.ndarray, settings: FitSettings, x: np.ndarray) -> None:
    """Refuse boundary solutions: they are not a power law the data supports."""
    for k, coef_index, exp_index in form.terms():
        axis = form.axes[k]
        coef_name, exp_name = form.names[coef_index], form.names[exp_index]
        coef, exponent = theta[coef_index], theta[exp_index]
        if exponent >= settings.max_exponent * (1 - BOUND_TOLERANCE):
            raise FitError(f"{exp_name} ran to its upper bound {settings.max_exponent:g}: the points fall like a "
                           f"step, not a power law in {axis} (raise --max-exponent only if that is plausible)")
        if coef <= 1e-12 or exponent <= MIN_EXPONENT * (1 + BOUND_TOLERANCE):
            raise FitError(f"the fit gives {axis} no effect ({coef_name} = {coef:.3g}, {exp_name} = {exponent:.3g}): "
                           f"WER does not decrease as a power law in {axis}")
    _, upper = form.bounds(settings.max_exponent, x)
    exponents = {form.names[exp_index] for _, _, exp_index in form.terms()}  # checked above, with their message
    for name, value, bound in zip(form.names, theta, upper, strict=True):
        if np.isfinite(bound) and name not in exponents and value >= bound * (1 - BOUND_TOLERANCE):
            raise FitError(f"{name} ran to its upper bound {bound:g}: the data do not identify it")


def lack_of_fit_p(residuals: np.ndarray, observed: np.ndarray, groups: np.ndarray, n_params: int) -> float:
    """p-value of the lack-of-fit F-test: is the misfit larger than the scatter between replicates (seeds)?

    `residuals` and `observed` in the fit space; `groups` labels replicates of one design point. NaN when
    there are no replicates or no spare design points (the test needs n > groups > parameters).
    """
    labels = np.unique(groups)
    n, m = len(observed), len(labels)
    if not n > m > n_params:
        return float("nan")
    pure = sum(float(np.sum((observed[groups == g] - observed[groups == g].mean()) ** 2)) for g in labels)
    if pure <= 0:
        return float("nan")
    lack = max(float(np.sum(residuals ** 2)) - pure, 0.0)
    statistic = (lack / (m - n_params)) / (pure / (n - m))
    return float(f_distribution.sf(statistic, m - n_params, n - m))


def fit_law(form: LawForm, x: np.ndarray, y: np.ndarray, settings: FitSettings | None = None,
            groups: np.ndarray | None = None) -> LawFit:
    """Fit `form` to WER `y` at sizes `x` (shape (n, len(form.axes)), all > 0), with bootstrap CIs.

    `groups` (optional) labels runs that repeat one design point (seeds), for the lack-of-fit test.
    """
    settings = settings or FitSettings()
    x = np.asarray(x, dtype=float).reshape(len(y), len(form.axes))
    y = np.asarray(y, dtype=float)
    if not (np.all(np.isfinite(x)) and np.all(x > 0)):
        raise FitError("sizes must be finite and > 0")
    if not np.all(np.isfinite(y)):
        raise FitError("WER values must be finite")
    if settings.space == "log" and np.any(y <= 0):
        raise FitError(f"{int(np.sum(y <= 0))} run(s) have WER 0, which has no logarithm: fit in linear space "
                       "(--space linear)")
    n_params = len(form.names)
    if len(y) <= n_params:
        raise FitError(f"{len(y)} points for {n_params} parameters: need at least {n_params + 1}")
    result = _solve(form, x, y, _initial_guess(form, x, y, settings), settings)
    if not result.success or not np.all(np.isfinite(result.x)):
        raise FitError(f"the least-squares fit did not converge ({result.message})")
    theta = result.x
    _check_solution(form, theta, settings, x)
    fitted = form.predict(theta, x)
    total = float(np.sum((y - y.mean()) ** 2))
    fit = LawFit(form=form, theta=theta, n_points=len(y), settings=settings,
                 rmse=float(np.sqrt(np.mean((fitted - y) ** 2))),
                 r2=1 - float(np.sum((fitted - y) ** 2)) / total if total > 0 else float("nan"))
    if groups is not None:
        observed = _transform(y, settings.space)
        fit.lack_of_fit_p = lack_of_fit_p(observed - _transform(fitted, settings.space), observed,
                                          np.asarray(groups), len(theta))
    fit.residuals = _scaled_residuals(form, x, y, theta, settings)
    fit.samples, fit.bootstrap_failed = _bootstrap(form, x, theta, fit.residuals, settings)
    return fit


def _scaled_residuals(form: LawForm, x: np.ndarray, y: np.ndarray, theta: np.ndarray,
                      settings: FitSettings) -> np.ndarray:
    """Residuals in the fit space, centred and inflated by sqrt(n / (n - p)): fitted residuals are smaller than
    the errors they estimate."""
    residuals = _transform(y, settings.space) - _transform(form.predict(theta, x), settings.space)
    return (residuals - residuals.mean()) * np.sqrt(len(y) / (len(y) - len(theta)))


def _bootstrap(form: LawForm, x: np.ndarray, theta: np.ndarray, residuals: np.ndarray,
               settings: FitSettings) -> tuple[np.ndarray, int]:
    """θ refitted on `settings.bootstrap` data sets resampled from the fit's scaled `residuals`; (samples,
    failed refits)."""
    if settings.bootstrap == 0:
        return np.empty((0, len(theta))), 0
    rng = np.random.default_rng(settings.seed)
    fitted = _transform(form.predict(theta, x), settings.space)
    samples, failed = [], 0
    for _ in range(settings.bootstrap):
        resampled = fitted + rng.choice(residuals, size=len(residuals), replace=True)
        y_star = np.exp(resampled) if settings.space == "log" else resampled
        result = _solve(form, x, y_star, theta, settings)
        if result.success and np.all(np.isfinite(result.x)):
            samples.append(result.x)
        else:
            failed += 1
    return (np.array(samples) if samples else np.empty((0, len(theta)))), failed
