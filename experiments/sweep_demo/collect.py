"""Collect the summary.json of every job of one Hydra sweep into a table (markdown + CSV).

    python experiments/sweep_demo/collect.py multirun/<date>/<time>_<task> --out experiments/sweep_demo

One row per job, in job order: its overrides, status, trainable parameters, training throughput,
zero-shot / best validation / test WER, loss health, wall time. Failed jobs are listed with their error.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import yaml

COLUMNS = ("job", "overrides", "status", "finetune_mode", "lr", "params_trainable", "global_steps",
           "train_samples_per_s", "baseline_wer", "best_val_wer", "wer", "cer", "loss_health", "wall_s")


def job_overrides(job_dir: Path) -> str:
    """The job's own overrides (those the sweep varied and those given to all jobs), from .hydra/overrides.yaml."""
    path = job_dir / ".hydra" / "overrides.yaml"
    return " ".join(yaml.safe_load(path.read_text())) if path.is_file() else ""


def row(job_dir: Path, varied: set[str]) -> dict[str, Any]:
    """One table row for a job dir."""
    summary = json.loads((job_dir / "summary.json").read_text())
    health = summary.get("loss_health") or {}
    overrides = [o for o in job_overrides(job_dir).split() if o.split("=")[0] in varied]
    return {
        "job": job_dir.name, "overrides": " ".join(overrides), "status": summary.get("status", "?"),
        "finetune_mode": summary.get("finetune_mode"), "lr": summary.get("lr"),
        "params_trainable": summary.get("params_trainable"), "global_steps": summary.get("global_steps"),
        "train_samples_per_s": summary.get("train_samples_per_s"), "baseline_wer": summary.get("baseline_wer"),
        "best_val_wer": summary.get("best_val_wer"), "wer": summary.get("wer"), "cer": summary.get("cer"),
        "loss_health": ("ok" if health.get("healthy") else "; ".join(health.get("flags", []))) if health
        else summary.get("error", ""),
        "wall_s": summary.get("wall_s"),
    }


def varied_keys(job_dirs: list[Path]) -> set[str]:
    """Override keys whose value differs between jobs (what the sweep swept)."""
    values: dict[str, set[str]] = {}
    for job_dir in job_dirs:
        for override in job_overrides(job_dir).split():
            key, _, value = override.partition("=")
            values.setdefault(key, set()).add(value)
    return {key for key, seen in values.items() if len(seen) > 1}


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="multirun/<date>/<time>_<task>")
    parser.add_argument("--out", type=Path, default=None, help="write results.md and results.csv here")
    args = parser.parse_args()
    job_dirs = sorted((p.parent for p in args.sweep_dir.glob("*/summary.json")), key=lambda p: int(p.name))
    if not job_dirs:
        raise SystemExit(f"no */summary.json under {args.sweep_dir}")
    varied = varied_keys(job_dirs)
    rows = [row(job_dir, varied) for job_dir in job_dirs]
    table = markdown(rows)
    print(table)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(table)
        with (args.out / "results.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
