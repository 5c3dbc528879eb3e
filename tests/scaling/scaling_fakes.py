"""Fake run dirs for the scaling tests: Hydra job dirs with a summary.json shaped like `whisper_exp.run`'s."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from whisper_exp.scaling.laws import LawForm

SECONDS_PER_CLIP = 4.8  # the demo corpus' mean clip length


def write_run(job_dir: Path, *, wer: float | None, train_samples: int, seed: int = 1, model: str = "tiny.en",
              params: int = 39_000_000, data: str = "demo_sg", finetune: str = "full", group: str = "scaling",
              tags: tuple[str, ...] = ("tiny.en", "demo_sg", "full"), train_hours: float | None = None,
              **extra: Any) -> Path:
    """Write JOB_DIR/.hydra/ and JOB_DIR/summary.json for one finished training run."""
    (job_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    summary = {
        "task_name": "train", "run_dir": str(job_dir), "tags": list(tags), "seed": seed, "model": model,
        "model_params_card": params, "data": data, "finetune": finetune, "train_samples": train_samples,
        "train_hours": train_hours if train_hours is not None else train_samples * SECONDS_PER_CLIP / 3600,
        "baseline_wer": 0.45, "wer": wer, "best_val_wer": None if wer is None else wer * 0.95, "global_steps": 12,
        "train_samples_per_s": 2.1, "wall_s": 60.0,
        "config": {"logger": {"name": "wandb", "group": group}, "model": {"name": model, "params": params,
                                                                        "checkpoint": None}},
        **extra,
    }
    (job_dir / "summary.json").write_text(json.dumps(summary))
    return job_dir


def write_law_sweep(root: Path, form: LawForm, theta: np.ndarray, *, sizes: list[int], seeds: tuple[int, ...],
                    noise: float, rng: np.random.Generator, models: dict[str, int] | None = None) -> list[Path]:
    """One run per (model, size, seed) with WER from `form` at θ, times log-normal noise of sd `noise`.

    Sizes are utterance counts; D is in hours (4.8 s per utterance), N in millions of parameters.
    """
    models = models or {"tiny.en": 39_000_000}
    paths = []
    for model, params in models.items():
        for size in sizes:
            for seed in seeds:
                hours = size * SECONDS_PER_CLIP / 3600
                x = {"data": [hours], "model": [params / 1e6], "joint": [params / 1e6, hours]}[form.kind]
                wer = float(form.predict(theta, np.array([x]))[0] * np.exp(rng.normal(0, noise)))
                paths.append(write_run(root / f"{model}_{size}_{seed}", wer=wer, train_samples=size, seed=seed,
                                       model=model, params=params))
    return paths
