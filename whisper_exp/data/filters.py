"""Sample filters that run before feature extraction, each drop counted per reason.

* empty or whitespace-only transcripts,
* duration outside [min_duration_s, max_duration_s] (Whisper sees at most 30 s),
* label sequences longer than the decoder allows (Whisper: 448 positions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from whisper_exp.data.errors import DropCounter


@dataclass(frozen=True)
class FilterSettings:
    """Bounds applied to every sample (from the data config and the model's label limit)."""

    min_duration_s: float
    max_duration_s: float
    max_label_tokens: int


def filter_reason(
    text: str, duration: float, label_length: int, settings: FilterSettings
) -> str | None:
    """Why a sample must be dropped, or None to keep it."""
    if not text.strip():
        return "empty transcript"
    if not math.isnan(duration):
        if duration < settings.min_duration_s:
            return f"shorter than {settings.min_duration_s} s"
        if duration > settings.max_duration_s:
            return f"longer than {settings.max_duration_s} s"
    if label_length > settings.max_label_tokens:
        return f"label longer than {settings.max_label_tokens} tokens"
    return None


def apply_filters(
    texts: Sequence[str],
    durations: Sequence[float],
    ids: Sequence[str],
    sources: Sequence[str],
    labeller: Callable[[str], list[int]],
    settings: FilterSettings,
    drops: DropCounter,
) -> tuple[list[int], list[list[int]]]:
    """Indices of kept samples and their label ids; drops are recorded in `drops`."""
    kept: list[int] = []
    labels: list[list[int]] = []
    for index, (text, duration, sample_id, source) in enumerate(zip(texts, durations, ids, sources, strict=True)):
        ids_for_text = labeller(text) if text.strip() else []
        reason = filter_reason(text, float(duration), len(ids_for_text), settings)
        if reason is not None:
            drops.drop(source, reason, sample_id)
            continue
        kept.append(index)
        labels.append(ids_for_text)
    return kept, labels
