"""`python -m whisper_exp [overrides]`: train (zero-shot validation, fit, test, export)."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

import whisper_exp  # noqa: F401  (registers config resolvers)

CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns the best validation WER for sweepers (Optuna)."""
    from whisper_exp.run import run_training
    from whisper_exp.training.signals import RunInterrupted, interrupt_exit, stop_on_signals

    try:
        with stop_on_signals():
            return run_training(cfg)
    except (RunInterrupted, KeyboardInterrupt) as stopped:
        interrupt_exit(stopped)
        return None


if __name__ == "__main__":
    main()
