"""Word and character error rates, computed by jiwer on normalised text.

* ``wer`` / ``cer``: after Whisper's English normaliser (English models) or its basic
  normaliser (multilingual), as the Whisper paper reports.
* ``wer_ortho``: orthographic WER on the raw strings (case and punctuation count).
* References that are empty after normalisation are excluded and counted
  (``n_empty_references``): WER is undefined for them.
* With several sources, ``per_source`` holds each source's normalised WER.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import jiwer
from transformers.models.whisper.english_normalizer import BasicTextNormalizer, EnglishTextNormalizer

from whisper_exp.metrics.spelling import BRITISH_TO_AMERICAN

Normaliser = Callable[[str], str]
NORMALISERS = ("english", "basic", "none")


def build_normaliser(kind: str, spelling: dict[str, str] | None = None) -> Normaliser:
    """Whisper's text normaliser by name: "english", "basic" or "none" (whitespace only).

    `spelling` is the tokenizer's British→American mapping (normalizer.json); without one, a
    built-in short list is used (see whisper_exp.metrics.spelling).
    """
    if kind == "english":
        return EnglishTextNormalizer(spelling or BRITISH_TO_AMERICAN)
    if kind == "basic":
        return BasicTextNormalizer()
    if kind == "none":
        return lambda text: " ".join(text.split())
    raise ValueError(f"unknown text normaliser {kind!r}; choose one of {NORMALISERS}")


@dataclass
class WerReport:
    """Error rates over one evaluation split."""

    wer: float
    cer: float
    wer_ortho: float
    n_utterances: int
    n_empty_references: int
    reference_words: int
    per_source: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain dict for logging and summary.json."""
        return asdict(self)


def _rates(refs: Sequence[str], hyps: Sequence[str]) -> tuple[float, float]:
    return float(jiwer.wer(list(refs), list(hyps))), float(jiwer.cer(list(refs), list(hyps)))


def score(
    predictions: Sequence[str],
    references: Sequence[str],
    normaliser: Normaliser,
    sources: Sequence[str] | None = None,
) -> WerReport:
    """Score predictions against references; see the module docstring for the conventions."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    sources = list(sources) if sources is not None else ["all"] * len(references)
    norm_refs, norm_hyps, raw_refs, raw_hyps, kept_sources = [], [], [], [], []
    for pred, ref, source in zip(predictions, references, sources, strict=True):
        norm_ref = normaliser(ref).strip()
        if not norm_ref:
            continue
        norm_refs.append(norm_ref)
        norm_hyps.append(normaliser(pred).strip())
        raw_refs.append(ref.strip())
        raw_hyps.append(pred.strip())
        kept_sources.append(source)
    n_empty = len(references) - len(norm_refs)
    if not norm_refs:
        nan = float("nan")
        return WerReport(nan, nan, nan, 0, n_empty, 0)
    wer, cer = _rates(norm_refs, norm_hyps)
    wer_ortho = float(jiwer.wer(raw_refs, raw_hyps))
    per_source: dict[str, float] = {}
    if len(set(kept_sources)) > 1:
        for name in sorted(set(kept_sources)):
            idx = [i for i, s in enumerate(kept_sources) if s == name]
            per_source[name] = float(jiwer.wer([norm_refs[i] for i in idx], [norm_hyps[i] for i in idx]))
    words = sum(len(r.split()) for r in norm_refs)
    return WerReport(wer, cer, wer_ortho, len(norm_refs), n_empty, words, per_source)
