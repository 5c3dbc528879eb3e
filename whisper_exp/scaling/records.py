"""One row per run: the numbers a scaling fit needs, read from a RunSummary (summary.json or a W&B run summary).

A run is either *usable* (a finished training run with a test WER), a *zero-shot reference* (an
evaluation of the un-tuned model: `python -m whisper_exp.evaluate` without a checkpoint), or
*excluded* with the reason (failed, still running, no WER, filtered out, unreadable). Excluded runs
are reported, never fitted.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from whisper_exp.summary import RunSummary

# `status` values (set on summaries of sweep jobs) that mean the run finished normally.
OK_STATUSES = ("ok", "finished", "success", "succeeded", "completed")
# W&B run states of runs that have not ended yet.
UNFINISHED_STATUSES = ("running", "pending", "preempting")
# Metric choice → the summary key holding it for a training run and for a zero-shot evaluation.
METRIC_KEYS: dict[str, tuple[str, str]] = {"test": ("wer", "wer"), "val": ("best_val_wer", "val_wer")}


@dataclass(frozen=True)
class RunRecord:
    """A usable run (or a zero-shot reference) reduced to what scaling needs."""

    run_id: str
    origin: str  # "local" | "wandb"
    kind: str  # "train" | "zero_shot"
    model: str
    params: int | None  # the model card's parameter count (whisper_exp/conf/model/<name>.yaml `params`)
    data: str
    finetune: str
    train_samples: int
    train_hours: float | None
    seed: int | None
    test_wer: float | None
    val_wer: float | None  # best validation WER (training) or validation WER (zero-shot)
    baseline_val_wer: float | None  # zero-shot validation WER measured before training, when it was
    global_steps: int | None = None
    train_samples_per_s: float | None = None
    wall_s: float | None = None
    group: str | None = None
    tags: tuple[str, ...] = ()

    def metric(self, which: str) -> float | None:
        """The WER to fit: "test" (test WER of the best checkpoint) or "val" (best validation WER)."""
        return self.test_wer if which == "test" else self.val_wer


@dataclass(frozen=True)
class Excluded:
    """A run that is reported but not fitted, and why."""

    run_id: str
    origin: str
    reason: str


@dataclass
class Collection:
    """Runs gathered from local dirs and/or W&B: usable ones, zero-shot references and exclusions."""

    runs: list[RunRecord] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)

    def add(self, item: RunRecord | Excluded) -> None:
        """File a record under runs or excluded."""
        (self.excluded if isinstance(item, Excluded) else self.runs).append(item)  # type: ignore[arg-type]

    def extend(self, other: Collection) -> None:
        """Append another collection's runs and exclusions."""
        self.runs += other.runs
        self.excluded += other.excluded

    @property
    def training(self) -> list[RunRecord]:
        """Usable training runs."""
        return [run for run in self.runs if run.kind == "train"]

    @property
    def zero_shot(self) -> list[RunRecord]:
        """Zero-shot references (evaluations of an un-tuned model)."""
        return [run for run in self.runs if run.kind == "zero_shot"]

    def exclusion_counts(self) -> Counter:
        """How many runs were excluded per reason category (the text before the first colon)."""
        return Counter(item.reason.split(":", 1)[0] for item in self.excluded)


def dig(mapping: Mapping[str, Any], dotted: str) -> Any:
    """`mapping["a"]["b"]` for "a.b"; also accepts flattened "a.b" / "a/b" keys. None when absent."""
    for flat in (dotted, dotted.replace(".", "/")):
        if flat in mapping:
            return mapping[flat]
    node: Any = mapping
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    number = _finite(value)
    return int(number) if number is not None else None


def run_group(summary: Mapping[str, Any]) -> str | None:
    """The run's group: explicit `group`, else the W&B logger group in its config, else its task name."""
    for value in (summary.get("group"), dig(summary, "config.logger.group"), summary.get("task_name")):
        if value:
            return str(value)
    return None


def filter_reason(summary: Mapping[str, Any], group: str | None, tags: Iterable[str]) -> str | None:
    """Why a run does not match the group/tags filter (None when it matches)."""
    if group is not None and run_group(summary) != group:
        return f"filtered out: group {run_group(summary)!r} is not {group!r}"
    missing = [tag for tag in tags if tag not in (summary.get("tags") or [])]
    if missing:
        return f"filtered out: lacks tag(s) {', '.join(missing)}"
    return None


def _is_zero_shot(summary: Mapping[str, Any]) -> bool:
    """An evaluation (not a training run) of a model without fine-tuned weights."""
    return "global_steps" not in summary and "val_wer" in summary and not dig(summary, "config.model.checkpoint")


def record_from_summary(summary: RunSummary | Mapping[str, Any], run_id: str, origin: str) -> RunRecord | Excluded:
    """A RunRecord from a RunSummary (or a summary.json-shaped mapping of any version), or why it cannot be used."""
    typed = summary if isinstance(summary, RunSummary) else RunSummary.from_dict(summary)
    plain = typed.as_dict()  # for the config fallbacks (dotted paths; flattened keys of W&B summaries)
    status = typed.get("status")
    if status is not None and str(status).lower() not in OK_STATUSES:
        lines = str(typed.get("error") or typed.get("message") or "").strip().splitlines()
        error = lines[0] if lines else ""  # the first line names the error; the rest is its detail
        category = "not finished" if str(status).lower() in UNFINISHED_STATUSES else "failed"
        return Excluded(run_id, origin, f"{category}: status {status!r}" + (f" ({error})" if error else ""))
    if not typed.has("global_steps") and typed.has("val_wer") and not _is_zero_shot(plain):
        return Excluded(run_id, origin, "not a training run: evaluation of a fine-tuned checkpoint")
    test_wer = _finite(typed.get("wer"))
    if test_wer is None:
        return Excluded(run_id, origin, "failed: no test WER (`wer`) in its summary")
    kind = "zero_shot" if _is_zero_shot(plain) else "train"
    val_key = METRIC_KEYS["val"][0 if kind == "train" else 1]
    model = typed.get("model") or dig(plain, "config.model.name")
    if not model:
        return Excluded(run_id, origin, "incomplete: no model name")
    train_samples = _integer(typed.get("train_samples"))
    if kind == "train" and not train_samples:
        return Excluded(run_id, origin, "incomplete: no train_samples")
    params = _integer(typed.get("model_params_card")) or _integer(dig(plain, "config.model.params"))
    seed = typed.get("seed", dig(plain, "config.seed"))
    hours = _finite(typed.get("train_hours"))
    return RunRecord(
        run_id=run_id, origin=origin, kind=kind, model=str(model), params=params,
        data=str(typed.get("data") or dig(plain, "config.data.name") or "?"),
        finetune=str(typed.get("finetune") or dig(plain, "config.finetune.name") or "?"),
        train_samples=train_samples or 0, train_hours=hours if hours else None,
        seed=_integer(seed), test_wer=test_wer, val_wer=_finite(typed.get(val_key)),
        baseline_val_wer=_finite(typed.get("baseline_wer")), global_steps=_integer(typed.get("global_steps")),
        train_samples_per_s=_finite(typed.get("train_samples_per_s")), wall_s=_finite(typed.get("wall_s")),
        group=run_group(plain), tags=tuple(str(tag) for tag in typed.get("tags") or ()),
    )
