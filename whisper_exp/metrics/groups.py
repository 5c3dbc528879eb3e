"""Corpus WER by group and speaker-bootstrap intervals: pure functions on per-utterance error counts.

Corpus WER is total word errors / total reference words (what jiwer reports over a list). Utterances of one
speaker are not independent (same voice, same accent, often the same prompts), so intervals resample
*speakers* with replacement and recompute corpus WER from all the utterances of the speakers drawn — the
cluster bootstrap (Bisani & Ney 2004 bootstrap the same way over test-set blocks). Percentile intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import jiwer
import numpy as np

# Fewer speakers than this: no interval (NaN).
MIN_SPEAKERS = 2


@dataclass(frozen=True)
class GroupWer:
    """Corpus WER of a group of utterances with its speaker-bootstrap interval (NaN when not computed)."""

    wer: float
    low: float
    high: float
    speakers: int
    utterances: int
    words: int

    def as_dict(self) -> dict:
        """Plain dict for summary.json."""
        return asdict(self)


def utterance_errors(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(word errors, reference words) per utterance: substitutions + deletions + insertions of jiwer's alignment."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not references:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    output = jiwer.process_words(list(references), list(hypotheses))
    errors = np.zeros(len(references), dtype=np.int64)
    words = np.zeros(len(references), dtype=np.int64)
    for index, (chunks, ref) in enumerate(zip(output.alignments, output.references, strict=True)):
        words[index] = len(ref)
        for chunk in chunks:
            if chunk.type in ("substitute", "delete"):
                errors[index] += chunk.ref_end_idx - chunk.ref_start_idx
            elif chunk.type == "insert":
                errors[index] += chunk.hyp_end_idx - chunk.hyp_start_idx
    return errors, words


def corpus_wer(errors: Sequence[int] | np.ndarray, words: Sequence[int] | np.ndarray) -> float:
    """Total errors / total reference words (NaN without reference words)."""
    total = float(np.sum(words))
    return float(np.sum(errors)) / total if total > 0 else float("nan")


def speaker_bootstrap(errors: Sequence[int] | np.ndarray, words: Sequence[int] | np.ndarray,
                      speakers: Sequence[str], *, resamples: int, seed: int,
                      confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of corpus WER over `resamples` draws of the speakers with replacement.

    Each draw takes as many speakers as there are, and sums the errors and words of all their utterances.
    (NaN, NaN) when `resamples` is 0, with fewer than MIN_SPEAKERS speakers (one speaker's utterances say
    nothing about speaker-to-speaker spread: a zero-width interval would mislead) or no reference words.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence} must be in (0, 1)")
    if resamples <= 0 or len(speakers) == 0:
        return float("nan"), float("nan")
    names, index = np.unique(np.asarray(speakers, dtype=object).astype(str), return_inverse=True)
    if len(names) < MIN_SPEAKERS:
        return float("nan"), float("nan")
    per_errors = np.bincount(index, weights=np.asarray(errors, dtype=float), minlength=len(names))
    per_words = np.bincount(index, weights=np.asarray(words, dtype=float), minlength=len(names))
    draws = np.random.default_rng(seed).integers(0, len(names), size=(resamples, len(names)))
    totals = per_words[draws].sum(axis=1)
    valid = totals > 0
    if not valid.any():
        return float("nan"), float("nan")
    wers = per_errors[draws].sum(axis=1)[valid] / totals[valid]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(wers, [tail, 1.0 - tail])
    return float(low), float(high)


def group_wer(errors: Sequence[int] | np.ndarray, words: Sequence[int] | np.ndarray, speakers: Sequence[str], *,
              resamples: int, seed: int, confidence: float = 0.95) -> GroupWer:
    """Corpus WER of the utterances given, with their speaker-bootstrap interval."""
    low, high = speaker_bootstrap(errors, words, speakers, resamples=resamples, seed=seed, confidence=confidence)
    return GroupWer(corpus_wer(errors, words), low, high, len(set(speakers)), len(speakers), int(np.sum(words)))


def wer_by_group(errors: Sequence[int] | np.ndarray, words: Sequence[int] | np.ndarray, speakers: Sequence[str],
                 groups: Sequence[str], *, resamples: int, seed: int, confidence: float = 0.95) -> dict[str, GroupWer]:
    """{group value: GroupWer} over the utterances of each value of `groups` (one value per utterance)."""
    errors, words = np.asarray(errors), np.asarray(words)
    result: dict[str, GroupWer] = {}
    for value in sorted(set(groups)):
        rows = [i for i, g in enumerate(groups) if g == value]
        result[value] = group_wer(errors[rows], words[rows], [speakers[i] for i in rows], resamples=resamples,
                                  seed=seed, confidence=confidence)
    return result
