"""Hallucination metrics: what a WER hides about a model that invents, repeats or drops text.

On normalised text (the WER's normaliser), over the utterances whose reference is not empty after
normalisation (as `metrics.wer.score`):

* ``insertion_rate``: inserted words / reference words, corpus-level (jiwer's alignment);
* ``loop_fraction``: fraction of hypotheses in which some word n-gram occurs at least `loop_count` times
  (n = `loop_ngram`; occurrences may overlap) — the repetition loop of greedy decoding;
* ``empty_rate``: fraction of hypotheses that are empty (dropped speech);
* ``length_ratio``: hypothesis words / reference words (> 1: more text than was said).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import jiwer

from whisper_exp.config.schema import HallucinationConfig
from whisper_exp.metrics.wer import Normaliser

METRICS = ("insertion_rate", "loop_fraction", "empty_rate", "length_ratio")


@dataclass
class HallucinationReport:
    """The four rates of one scored set (see module doc) and how many utterances they cover."""

    insertion_rate: float
    loop_fraction: float
    empty_rate: float
    length_ratio: float
    n_utterances: int

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict for logging and summary.json."""
        return asdict(self)


def has_loop(words: Sequence[str], ngram: int, count: int) -> bool:
    """Whether some `ngram`-gram of `words` occurs at least `count` times."""
    grams = Counter(tuple(words[i:i + ngram]) for i in range(len(words) - ngram + 1))
    return any(times >= count for times in grams.values())


def hallucination_report(predictions: Sequence[str], references: Sequence[str], normaliser: Normaliser,
                         settings: HallucinationConfig) -> HallucinationReport:
    """The hallucination metrics of `predictions` against `references` (see module doc)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    pairs = [(normaliser(ref).split(), normaliser(pred).split()) for pred, ref in zip(predictions, references,
                                                                                       strict=True)]
    pairs = [(ref, hyp) for ref, hyp in pairs if ref]
    if not pairs:
        nan = float("nan")
        return HallucinationReport(nan, nan, nan, nan, 0)
    ref_words = sum(len(ref) for ref, _ in pairs)
    alignment = jiwer.process_words([" ".join(ref) for ref, _ in pairs], [" ".join(hyp) for _, hyp in pairs])
    loops = sum(has_loop(hyp, settings.loop_ngram, settings.loop_count) for _, hyp in pairs)
    empty = sum(not hyp for _, hyp in pairs)
    return HallucinationReport(insertion_rate=alignment.insertions / ref_words, loop_fraction=loops / len(pairs),
                               empty_rate=empty / len(pairs),
                               length_ratio=sum(len(hyp) for _, hyp in pairs) / ref_words, n_utterances=len(pairs))
