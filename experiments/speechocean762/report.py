"""Tables and the time-to-quality plot of the speechocean762 study, from its run folders.

    python experiments/speechocean762/report.py outputs/speechocean762 --out experiments/speechocean762/results

Reads OUT/<run>/summary.json (whisper_exp runs and zero-shot evaluations), OUT/<run>/csv/metrics.csv (validation
WER and training seconds at every validation) and OUT/peer/summary.json (Seq2SeqTrainer), and writes results.md
(the tables), time_to_quality.png and a copy of every summary (without its composed config) beside them.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

ZERO_SHOT = ("zero_shot_tiny.en", "zero_shot_base")
PEER = "peer"
GROUPS = ("child", "teen", "adult")
EXTRA_SET = "real_speech"


def _curve(run_dir: Path) -> list[tuple[int, float, float]]:
    """(step, training seconds, val WER) at each validation during fit, from the CSV logger."""
    metrics = run_dir / "csv" / "metrics.csv"
    if not metrics.is_file():
        return []
    points = []
    with metrics.open() as handle:
        for row in csv.DictReader(handle):
            if row.get("time/train_s") and row.get("val/wer"):
                points.append((int(row["step"]), float(row["time/train_s"]), float(row["val/wer"])))
    return points


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _interval(summary: dict[str, Any]) -> str:
    low, high = summary.get("wer_interval") or (None, None)
    return f"{_fmt(summary['wer'])} [{_fmt(low)}, {_fmt(high)}]"


def _group(summary: dict[str, Any], name: str) -> str:
    group = ((summary.get("wer_by_group") or {}).get("age_group") or {}).get(name)
    return f"{_fmt(group['wer'])} [{_fmt(group['low'])}, {_fmt(group['high'])}]" if group else "—"


def _first_reaching(curve: list[tuple[int, float, float]], target: float) -> float | None:
    """Training seconds at the first validation with WER ≤ target."""
    return next((seconds for _, seconds, wer in curve if wer <= target + 1e-12), None)


def _runs(out: Path) -> dict[str, dict[str, Any]]:
    runs = {}
    for summary_path in sorted(out.glob("*/summary.json")):
        runs[summary_path.parent.name] = json.loads(summary_path.read_text())
    return runs


def tables(out: Path, runs: dict[str, dict[str, Any]]) -> tuple[str, dict[str, list[tuple[int, float, float]]]]:
    """The study's markdown tables and each run's validation curve, from the summaries `runs` of `out`."""
    zero = runs.get(ZERO_SHOT[0])
    if zero is None:
        raise SystemExit(f"{out}/{ZERO_SHOT[0]}/summary.json is missing: run the zero-shot evaluation first")
    zero_wer, zero_extra = zero["wer"], zero["wer_by_set"].get(EXTRA_SET)
    peer = runs.get(PEER)
    curves = {name: _curve(out / name) for name in runs if name not in ZERO_SHOT and name != PEER}
    if peer:
        curves[PEER] = [(h["step"], h["train_s"], h["wer"]) for h in peer["history"]]
    env = zero["environment"]
    lines = [f"Machine: {env['cpu_model']}, {env['usable_cores']} cores, flags {' '.join(env['cpu_flags'])}, "
             f"native bf16: {'yes' if env['native_bf16'] else 'no'}; torch {env['torch']}.", "",
             "| run | trainable params | precision | steps | best val WER | test WER [95 % speaker CI] | × zero-shot "
             "| child | teen | adult | real_speech (Δ vs zero-shot) | wall |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, summary in runs.items():
        if name == PEER:
            continue
        extra = summary["wer_by_set"].get(EXTRA_SET)
        delta = f"{_fmt(extra)} ({extra - zero_extra:+.3f})" if extra is not None and zero_extra is not None else "—"
        steps = summary.get("global_steps") or 0
        lines.append(
            f"| {name} | {summary.get('params_trainable', 0) / 1e6:.1f} M | {summary.get('precision')} | {steps} "
            f"| {_fmt(summary.get('best_val_wer') or summary.get('val_wer'))} | {_interval(summary)} "
            f"| {summary['wer'] / zero_wer:.2f} | {_group(summary, 'child')} | {_group(summary, 'teen')} "
            f"| {_group(summary, 'adult')} | {delta} | {summary['wall_s'] / 60:.1f} min |")
    lines += ["", "Time to quality (training seconds, validation passes and set-up excluded; "
              "target = the peer's best validation WER):", "",
              "| system | validations (step: val WER) | best val WER | s to its best | s to the target |",
              "| --- | --- | --- | --- | --- |"]
    target = peer["best_val_wer"] if peer else None
    for name, curve in curves.items():
        if not curve:
            continue
        best = min(wer for _, _, wer in curve)
        points = ", ".join(f"{step}: {wer:.3f}" for step, _, wer in curve)
        to_target = _first_reaching(curve, target) if target is not None else None
        lines.append(f"| {name} | {points} | {best:.4f} | {_fmt(_first_reaching(curve, best), 0)} "
                     f"| {_fmt(to_target, 0) if to_target is not None else ('not reached' if target else '—')} |")
    return "\n".join(lines) + "\n", curves


def plot(curves: dict[str, list[tuple[int, float, float]]], zero_val: float, path: Path) -> None:
    """Validation WER against training seconds, one line per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, curve in curves.items():
        if curve:
            ax.plot([0] + [s for _, s, _ in curve], [zero_val] + [w for _, _, w in curve], marker="o", label=name)
    ax.set_xlabel("training seconds (validation excluded)")
    ax.set_ylabel("validation WER")
    ax.set_title("speechocean762, tiny.en: time to quality")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, help="the study's output folder (run_study.sh's OUT)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = _runs(args.runs)
    text, curves = tables(args.runs, runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(text)
    plot(curves, runs[ZERO_SHOT[0]]["val_wer"], args.out / "time_to_quality.png")
    kept = args.out / "summaries"
    kept.mkdir(exist_ok=True)
    for name, summary in runs.items():
        summary.pop("config", None)
        (kept / f"{name}.json").write_text(json.dumps(summary, indent=1))
    print(text)


if __name__ == "__main__":
    main()
