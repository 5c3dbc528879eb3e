"""WER/CER conventions: normalisers, empty references, per-source rates."""

from __future__ import annotations

import math

import pytest

from whisper_exp.metrics.wer import build_normaliser, score


def test_english_normaliser_handles_case_punctuation_numbers_and_spelling() -> None:
    norm = build_normaliser("english")
    assert norm("Hello, World!") == "hello world"
    assert norm("twenty five dollars") == norm("$25")
    assert norm("My favourite colour") == norm("my favorite color")


def test_wer_on_normalised_text_and_orthographic_wer() -> None:
    report = score(["hello world"], ["Hello, world!"], build_normaliser("english"))
    assert report.wer == 0.0
    assert report.wer_ortho == 1.0  # both words differ orthographically
    assert report.n_utterances == 1


def test_empty_references_are_excluded_and_counted() -> None:
    report = score(["something", "a b c", "x"], ["", "a b d", "Um, hmm."], build_normaliser("english"))
    assert report.n_empty_references == 2
    assert report.n_utterances == 1
    assert report.wer == pytest.approx(1 / 3)


def test_all_empty_references_give_nan_not_zero() -> None:
    report = score(["x"], [""], build_normaliser("basic"))
    assert math.isnan(report.wer) and report.n_empty_references == 1


def test_per_source_wer_when_sources_are_mixed() -> None:
    report = score(["a b", "c d", "e f"], ["a b", "c x", "e f"], build_normaliser("basic"), ["cv", "fleurs", "cv"])
    assert report.per_source == {"cv": 0.0, "fleurs": 0.5}
    assert report.wer == pytest.approx(1 / 6)
    assert score(["a"], ["a"], build_normaliser("basic"), ["cv"]).per_source == {}


def test_unknown_normaliser() -> None:
    with pytest.raises(ValueError, match="english"):
        build_normaliser("french")
