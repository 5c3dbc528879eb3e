"""summary.json: one file per run with the numbers and the config that produced them.

`RunSummary` is the one typed record of a run: run.py fills it (training and evaluation alike, and the
partial record of a failed or interrupted job), tracking.wandb_tables copies its comparison fields to
the W&B run summary, and scaling.records reads it back — from summary.json files of any version, or
from a W&B run summary. A field is written only when it was set (an evaluation has no `global_steps`,
a run without validation a null `best_val_wer`); keys it does not know are kept in `extra` and
written back, so older and newer files round-trip unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

SUMMARY_NAME = "summary.json"


class _Unset:
    """The value of a field that was never set (not written; distinct from null)."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


# Field metadata of the numbers copied to the W&B run summary for comparing runs.
COMPARE = {"compare": True}


@dataclass
class RunSummary:
    """Everything summary.json holds (see module doc): fields unset by default; comparison fields carry COMPARE."""

    # What ran.
    task_name: str | None = field(default=UNSET, metadata=COMPARE)
    run_dir: str = UNSET
    tags: list[str] = UNSET
    group: str | None = UNSET  # the sweep or W&B group (set by scaling.collect when reading runs back)
    seed: int = field(default=UNSET, metadata=COMPARE)
    model: str = field(default=UNSET, metadata=COMPARE)
    model_source: str = UNSET
    model_params_card: int = field(default=UNSET, metadata=COMPARE)
    data: str = field(default=UNSET, metadata=COMPARE)
    finetune: str = field(default=UNSET, metadata=COMPARE)
    finetune_mode: str = UNSET
    params_total: int = field(default=UNSET, metadata=COMPARE)
    params_trainable: int = field(default=UNSET, metadata=COMPARE)
    params_frozen: int = field(default=UNSET, metadata=COMPARE)
    train_samples: int | None = field(default=UNSET, metadata=COMPARE)
    train_hours: float | None = field(default=UNSET, metadata=COMPARE)
    streaming: bool = UNSET
    # Training examples labelled with timestamp tokens (data.timestamps): examples, timestamped, too_long.
    timestamp_labels: dict[str, int] | None = UNSET
    lr: float = field(default=UNSET, metadata=COMPARE)
    lr_source: str = UNSET
    precision: str = field(default=UNSET, metadata=COMPARE)
    dropped_samples: dict[str, dict[str, int]] = UNSET
    environment: dict[str, Any] = UNSET
    config: dict[str, Any] = UNSET
    # How it ended: completed | failed | interrupted (and the error, its traceback tail, how to resume).
    status: str = UNSET
    error: str = UNSET
    traceback: list[str] = UNSET
    resume_with: str = UNSET
    resume_command: str = UNSET  # the whole command (a run stopped by a full disk)
    wall_s: float = field(default=UNSET, metadata=COMPARE)
    # Zero-shot validation before training.
    baseline_wer: float = field(default=UNSET, metadata=COMPARE)
    baseline_cer: float = field(default=UNSET, metadata=COMPARE)
    baseline_wer_ortho: float = UNSET
    # Validation (evaluation runs) and test of the best checkpoint.
    val_wer: float = field(default=UNSET, metadata=COMPARE)
    val_cer: float = UNSET
    wer: float = field(default=UNSET, metadata=COMPARE)
    cer: float = field(default=UNSET, metadata=COMPARE)
    wer_ortho: float = field(default=UNSET, metadata=COMPARE)
    test_utterances: int = UNSET
    test_empty_references: int = UNSET
    wer_per_source: dict[str, float] = UNSET
    # Named evaluation sets (data.validation_sets / test_sets): WER of each; the first is the primary one above.
    baseline_wer_by_set: dict[str, float] = UNSET
    val_wer_by_set: dict[str, float] = UNSET
    wer_by_set: dict[str, float] = UNSET
    scored_sets: list[str] = UNSET  # evaluation runs: the sets scored, and those the data lacked
    missing_sets: list[str] = UNSET
    best_val_wer: float | None = field(default=UNSET, metadata=COMPARE)
    examples: list[dict[str, str]] = UNSET
    # Hallucination metrics (metrics.hallucination) by scored set: baseline_val, val, test (and named sets
    # test/<name>), long_form.
    hallucination: dict[str, dict[str, float]] = UNSET
    # Long-form evaluation (eval.long_form; whisper_exp/long_form.py): WER beside the short-form WER of the same
    # clips, boundary accuracy, recordings.
    long_form: dict[str, Any] | None = UNSET
    # Training.
    resumed_from: str = UNSET
    loss_health: dict[str, Any] | None = UNSET
    best_checkpoint: str | None = UNSET
    last_checkpoint: str | None = UNSET
    checkpoint_bytes: int = UNSET
    train_samples_seen: int = field(default=UNSET, metadata=COMPARE)
    train_seconds: float = field(default=UNSET, metadata=COMPARE)
    train_samples_per_s: float = field(default=UNSET, metadata=COMPARE)
    train_audio_seconds: float = UNSET
    first_step_after_s: float | None = UNSET
    train_audio_s_per_s: float = UNSET
    global_steps: int = field(default=UNSET, metadata=COMPARE)
    # Speed features (task.speed_stats), adapters and export.
    encoder_cache: dict[str, Any] = UNSET
    adapter_dir: str = UNSET
    adapter_bytes: int = UNSET
    export_dir: str = UNSET
    # Keys this version does not declare (older or newer files, other writers): kept as they are.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def comparison_keys(cls) -> tuple[str, ...]:
        """The fields copied to the W&B run summary (the numbers runs are compared by)."""
        return tuple(f.name for f in fields(cls) if f.metadata.get("compare"))

    def update(self, values: Mapping[str, Any] | None = None, **more: Any) -> RunSummary:
        """Set fields by name (unknown names go to `extra`); returns self."""
        known = {f.name for f in fields(self)} - {"extra"}
        for key, value in {**(values or {}), **more}.items():
            if key in known:
                setattr(self, key, value)
            else:
                self.extra[key] = value
        return self

    def setdefault(self, key: str, value: Any) -> None:
        """Set `key` only when it is not set yet."""
        if not self.has(key):
            self.update({key: value})

    def has(self, key: str) -> bool:
        """Whether `key` was set (a null counts as set)."""
        if key in self.extra:
            return True
        return hasattr(self, key) and key != "extra" and getattr(self, key) is not UNSET

    def get(self, key: str, default: Any = None) -> Any:
        """The value of `key` (a field or an extra key), or `default` when unset."""
        if key in self.extra:
            return self.extra[key]
        value = getattr(self, key, UNSET) if key != "extra" else UNSET
        return default if value is UNSET else value

    def as_dict(self) -> dict[str, Any]:
        """The summary.json mapping: set fields in declaration order, then the extra keys."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name != "extra" and getattr(self, f.name) is not UNSET}
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> RunSummary:
        """A summary.json (any version) or a summary-shaped W&B mapping; values are kept as they are."""
        return cls().update(dict(mapping))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_summary(run_dir: Path, summary: RunSummary | Mapping[str, Any]) -> Path:
    """Write RUN_DIR/summary.json atomically (NaN/inf become null) and return its path."""
    path = run_dir / SUMMARY_NAME
    tmp = path.with_suffix(".json.tmp")
    plain = summary.as_dict() if isinstance(summary, RunSummary) else dict(summary)
    tmp.write_text(json.dumps(_clean(plain), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def read_summary(run_dir: Path) -> dict[str, Any]:
    """Load RUN_DIR/summary.json as a plain mapping (RunSummary.from_dict types it)."""
    return json.loads((run_dir / SUMMARY_NAME).read_text())
