"""Sample filters that run before feature extraction, each drop counted per reason (by the caller).

* empty or whitespace-only transcripts,
* duration outside [min_duration_s, max_duration_s] (Whisper sees at most 30 s), when the source
  knows it; clips whose duration is only known once decoded are checked again after decoding,
* label sequences longer than the decoder allows (Whisper: 448 positions).
* transcripts with no label at all (CTC: nothing left in the vocabulary after normalisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class FilterSettings:
    """Bounds applied to every sample (from the data config and the model's label limit)."""

    min_duration_s: float
    max_duration_s: float
    max_label_tokens: int


def duration_reason(seconds: float, settings: FilterSettings) -> str | None:
    """Why a clip of `seconds` is outside [min_duration_s, max_duration_s], or None (the one duration check:
    on the source's duration before decoding, on the decoded audio after)."""
    if seconds < settings.min_duration_s:
        return f"shorter than {settings.min_duration_s} s"
    if seconds > settings.max_duration_s:
        return f"longer than {settings.max_duration_s} s"
    return None


def filter_reason(
    text: str, duration: float, label_length: int, settings: FilterSettings
) -> str | None:
    """Why a sample must be dropped, or None to keep it."""
    if not text.strip():
        return "empty transcript"
    if not math.isnan(duration) and (reason := duration_reason(duration, settings)) is not None:
        return reason
    if label_length == 0:  # a CTC labeller found no in-vocabulary character
        return "no label tokens (no vocabulary character after normalisation)"
    if label_length > settings.max_label_tokens:
        return f"label longer than {settings.max_label_tokens} tokens"
    return None
