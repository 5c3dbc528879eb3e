"""The loss-health monitor: decaying vs flat vs noisy training-loss curves, and the numbers it reports."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import LossHealthConfig
from whisper_exp.training.health import LossHealthMonitor, assess_loss_curve

# Per-step training losses of bundled tiny.en on demo_sg (batch 8, bf16-mixed, 10 % warm-up), measured here:
# at the rule-of-thumb LR (3.75e-5) a healthy fine-tune, falling fast with ordinary batch-to-batch variation…
DEMO_HEALTHY = [1.47, 1.78, 1.53, 1.24, 1.0, 1.53, 1.0, 0.71, 1.03, 0.7, 0.66, 0.47, 0.69, 0.48, 0.72, 0.51, 0.53,
                0.33, 0.26, 0.3, 0.31, 0.79, 0.62, 0.53, 0.25, 0.39, 0.39, 0.41, 0.37, 0.18]
# …and at 1e-3 (27× the rule): the loss shoots up from the pretrained model's 1.5 and needs 20 steps to return.
DEMO_TOO_HIGH_LR = [1.47, 1.78, 5.8, 2.27, 3.21, 4.1, 3.84, 4.17, 2.89, 3.58, 1.92, 1.67, 1.66, 1.94, 1.88, 1.5, 1.45,
                    1.16, 1.01, 0.77, 1.26, 1.6, 1.26, 1.48, 0.51, 0.68, 1.22, 0.89, 1.1, 0.66]
CFG = typed_defaults(LossHealthConfig, steps=30)


def test_a_healthy_fine_tune_is_not_flagged() -> None:
    report = assess_loss_curve(DEMO_HEALTHY, CFG)
    assert report.healthy and report.flags == []
    assert report.start == 1.53  # median of the first three steps
    assert report.decrease == pytest.approx(1 - 0.39 / 1.47)  # medians of the first and last 7 steps
    assert report.rise < 0.1 and 0.1 < report.noise < CFG.max_noise
    assert "loss health: ok" in report.message()


def test_a_too_high_lr_is_flagged_as_rising_with_the_numbers() -> None:
    report = assess_loss_curve(DEMO_TOO_HIGH_LR, CFG)
    assert report.flags == ["rising (> 50% above its start)"]
    assert report.start == 1.78 and report.peak > 2 * report.start
    message = report.message(lr=1e-3)
    assert "peaked at 3.970" in message and "consider a lower learning rate (optimizer.lr, now 0.001)" in message


def test_a_flat_loss_is_flagged_as_not_decaying_with_the_numbers() -> None:
    rng = np.random.default_rng(0)
    flat = list(2.0 + 0.05 * rng.standard_normal(40))
    report = assess_loss_curve(flat, CFG)
    assert report.flags == ["not decaying (< 10%)"]
    assert f"{report.first:.3f} → {report.last:.3f}" in report.message(lr=1e-3)


def test_a_jumpy_loss_is_flagged_as_noisy_even_while_decaying() -> None:
    spikes = [3.0 * 0.97 ** i * (2.5 if i % 3 == 0 else 1.0) for i in range(40)]
    report = assess_loss_curve(spikes, CFG)
    assert report.decrease > 0.1 and "noisy (> 40%)" in report.flags and report.noise > 0.4


def test_too_few_or_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 4 finite"):
        assess_loss_curve([1.0, 0.9, float("nan"), 0.8], CFG)


def test_the_callback_assesses_once_the_window_is_full(caplog: pytest.LogCaptureFixture) -> None:
    class FakeTrainer:
        is_global_zero = True

    monitor = LossHealthMonitor(typed_defaults(LossHealthConfig, steps=5), lr=3e-5)
    with caplog.at_level(logging.INFO):
        for loss in (2.0, 2.0, 2.1, 2.0, 2.05, 0.1):
            monitor.on_train_batch_end(FakeTrainer(), None, {"loss": torch.tensor(loss)}, None, 0)
    assert monitor.report is not None and monitor.report.steps == 5  # the 6th loss came after the verdict
    assert [r.levelname for r in caplog.records if "loss health" in r.getMessage()] == ["WARNING"]
    restored = LossHealthMonitor(typed_defaults(LossHealthConfig, steps=5))
    restored.load_state_dict(monitor.state_dict())  # survives a resume
    assert restored.report == monitor.report
