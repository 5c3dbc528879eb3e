"""From collected runs to fits: slicing, refusals with reasons, predictions, held-out checks, model sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scaling_fakes import SECONDS_PER_CLIP, write_law_sweep, write_run

from whisper_exp.scaling.catalog import UnknownModelError, available_models, model_params
from whisper_exp.scaling.collect import collect_local
from whisper_exp.scaling.laws import DATA_LAW, JOINT_LAW, MODEL_LAW, FitSettings
from whisper_exp.scaling.study import StudyOptions, StudyResult, run_study

FAST = FitSettings(bootstrap=100, seed=0)
DATA_THETA = np.array([0.03, 0.02, 0.5])  # WER(D) = 0.03 + 0.02·D^-0.5, D in hours
WHISPER = {"tiny.en": 39_000_000, "base.en": 74_000_000, "distil-small.en": 166_000_000, "small.en": 244_000_000,
           "medium.en": 769_000_000}


def _study(root: Path, **options: object) -> StudyResult:
    collection = collect_local([root])
    return run_study(collection.training, collection.zero_shot, StudyOptions(settings=FAST, **options))  # type: ignore[arg-type]


def test_data_fit_extrapolates_and_checks_itself_on_held_out_runs(tmp_path: Path) -> None:
    write_law_sweep(tmp_path, DATA_LAW, DATA_THETA, sizes=[25, 50, 100, 200, 400], seeds=(1, 2), noise=0.03,
                    rng=np.random.default_rng(0))
    held_hours = 400 * SECONDS_PER_CLIP / 3600
    result = _study(tmp_path, predict_sizes=(10.0, 1000.0), holdout_above=0.4)
    [outcome] = result.outcomes
    assert outcome.kind == "data" and outcome.label == "tiny.en · demo_sg · full" and outcome.refusal is None
    assert len(outcome.points) == 8 and len(outcome.held_out) == 2
    # Tolerances that held over 20 noise seeds of this design (4 fitted sizes; ×37 is a long way to extrapolate).
    assert outcome.fit is not None and outcome.fit.params["alpha"] == pytest.approx(0.5, abs=0.3)
    ten, thousand, held = outcome.predictions
    assert ten.size == 10.0 and ten.extrapolation == "D ×37.5 above largest"  # largest fitted: 200 clips = 0.267 h
    assert ten.low < ten.wer < ten.high and thousand.wer < ten.wer
    assert ten.wer == pytest.approx(DATA_LAW.predict(DATA_THETA, np.array([[10.0]]))[0], rel=0.6)
    assert held.size == pytest.approx(held_hours) and held.measured_runs == 2 and held.measured is not None
    assert held.measured == pytest.approx(held.wer, rel=0.15)
    assert "model fit not applicable" in " ".join(result.notes)


def test_model_fit_predicts_named_models_with_their_config_parameter_counts(tmp_path: Path) -> None:
    theta = np.array([0.04, 0.5, 0.45])  # N in millions
    write_law_sweep(tmp_path, MODEL_LAW, theta, sizes=[100], seeds=(1, 2), noise=0.02,
                    rng=np.random.default_rng(1), models=WHISPER)
    result = _study(tmp_path, predict_models=("large-v3", "2e9"))
    [outcome] = [o for o in result.outcomes if o.kind == "model"]
    assert outcome.label == "demo_sg · full · 100 training utterances" and outcome.fit is not None
    large, two_billion = outcome.predictions
    assert (large.model, large.params) == ("large-v3", 1_550_000_000)
    assert two_billion.params == 2_000_000_000
    assert large.extrapolation == "N ×2.02 above largest"
    assert large.wer == pytest.approx(MODEL_LAW.predict(theta, np.array([[1550.0]]))[0], rel=0.1)
    assert [o.kind for o in result.outcomes] == ["model"]  # one size: the data and joint fits do not apply


def test_joint_fit_on_a_model_by_size_grid(tmp_path: Path) -> None:
    # Tolerances: the largest errors over 20 noise seeds of this design (β 0.097, prediction 22 %), rounded up.
    theta = np.array([0.03, 0.8, 0.5, 0.02, 0.5])
    write_law_sweep(tmp_path, JOINT_LAW, theta, sizes=[25, 50, 100, 200], seeds=(1,), noise=0.02,
                    rng=np.random.default_rng(2), models=WHISPER)
    result = _study(tmp_path, fits=("joint",), predict_models=("large-v3",), predict_sizes=(10.0,))
    [outcome] = result.outcomes
    assert outcome.fit is not None and outcome.units == ("M params", "hours")
    assert outcome.fit.params["beta"] == pytest.approx(0.5, abs=0.15)
    [prediction] = outcome.predictions
    assert prediction.extrapolation == "N ×2.02 above largest; D ×37.5 above largest"
    truth = JOINT_LAW.predict(theta, np.array([[1550.0, 10.0]]))[0]
    assert prediction.wer == pytest.approx(truth, rel=0.3)


def test_three_sizes_are_too_few_for_three_parameters(tmp_path: Path) -> None:
    write_law_sweep(tmp_path, DATA_LAW, DATA_THETA, sizes=[25, 50, 100], seeds=(1, 2), noise=0.03,
                    rng=np.random.default_rng(3))
    [outcome] = _study(tmp_path).outcomes
    assert outcome.fit is None and not outcome.predictions
    assert outcome.refusal == ("too few points: 3 distinct training-set sizes (25, 50, 100); the data law has 3 "
                               "parameters and needs at least 4")


def test_wer_rising_with_data_is_not_fitted(tmp_path: Path) -> None:
    for i, (size, wer) in enumerate([(25, 0.20), (50, 0.19), (100, 0.22), (200, 0.25), (400, 0.24)]):
        write_run(tmp_path / str(i), wer=wer, train_samples=size)
    [outcome] = _study(tmp_path).outcomes
    assert outcome.fit is None
    assert outcome.refusal.startswith("WER does not decrease with D (mean WER by training-set sizes: 25: 0.2000, "
                                      "50: 0.1900, 100: 0.2200")


def test_a_cliff_steeper_than_any_plausible_power_law_is_refused(tmp_path: Path) -> None:
    for i, size in enumerate([25, 50, 100, 200, 400]):
        hours = size * SECONDS_PER_CLIP / 3600
        write_run(tmp_path / str(i), wer=0.05 + 5.9e-10 * hours**-6, train_samples=size)  # 0.48, 0.057, 0.050, …
    [outcome] = _study(tmp_path).outcomes
    assert outcome.fit is None and outcome.refusal.startswith("fit failed: alpha ran to its upper bound 3")


def test_explicit_fit_kinds_report_why_each_slice_is_refused(tmp_path: Path) -> None:
    write_law_sweep(tmp_path, DATA_LAW, DATA_THETA, sizes=[25, 50, 100, 200], seeds=(1,), noise=0.03,
                    rng=np.random.default_rng(4))
    result = _study(tmp_path, fits=("model", "joint"))
    assert len(result.outcomes) == 5 and not result.fitted
    model = next(o for o in result.outcomes if o.kind == "model")
    assert model.refusal.startswith("too few points: 1 distinct model sizes (39M)")
    joint = next(o for o in result.outcomes if o.kind == "joint")
    assert joint.refusal.startswith("too few points: 1 distinct model sizes (39M); the joint law has 5 parameters "
                                    "and needs at least 3")


def test_zero_shot_reference_and_runs_without_hours(tmp_path: Path) -> None:
    write_law_sweep(tmp_path, DATA_LAW, DATA_THETA, sizes=[25, 50, 100, 200], seeds=(1,), noise=0.03,
                    rng=np.random.default_rng(5))
    write_run(tmp_path / "no_hours", wer=0.1, train_samples=300, train_hours=0.0)
    collection = collect_local([tmp_path])
    [outcome] = run_study(collection.training, collection.training[:0], StudyOptions(settings=FAST)).outcomes
    assert outcome.zero_shot is None and len(outcome.points) == 4
    val = run_study(collection.training, [], StudyOptions(settings=FAST, metric="val"))
    assert val.outcomes[0].zero_shot == pytest.approx(0.45)  # baseline_wer of the training runs
    assert any("no_hours: no training size" in note for note in val.notes)
    by_samples = run_study(collection.training, [], StudyOptions(settings=FAST, size_unit="samples"))
    assert len(by_samples.outcomes[0].points) == 5 and by_samples.outcomes[0].units == ("utterances",)


def test_model_sizes_come_from_the_model_configs() -> None:
    assert model_params("large-v3") == 1_550_000_000 and model_params("tiny.en") == 39_000_000
    assert model_params("2e9") == 2_000_000_000
    assert {"tiny.en", "medium", "large-v3"} <= set(available_models())
    with pytest.raises(UnknownModelError, match=r"unknown model 'huge'.*choose one of .*large-v3.*2e9"):
        model_params("huge")


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fit kind"):
        StudyOptions(fits=("curvy",))
    with pytest.raises(ValueError, match="size unit"):
        StudyOptions(size_unit="minutes")
