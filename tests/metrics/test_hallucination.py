"""Hallucination metrics (issue 16, item 3) on hand-made hypotheses with known answers."""

from __future__ import annotations

import math

import pytest

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import HallucinationConfig
from whisper_exp.metrics.hallucination import hallucination_report, has_loop
from whisper_exp.metrics.wer import build_normaliser

PLAIN = build_normaliser("none")
LOOPS = typed_defaults(HallucinationConfig)  # any 4-gram three times


def test_insertion_rate_counts_inserted_words_over_reference_words() -> None:
    # 2 insertions ("very", "really") over 6 reference words; a substitution and a deletion do not count.
    report = hallucination_report(["the cat sat very really", "dog barks"], ["the cat sat", "a dog ran"], PLAIN,
                                  LOOPS)
    assert report.insertion_rate == pytest.approx(2 / 6)


def test_loop_fraction() -> None:
    looping = "go to the shop " * 3
    assert has_loop(looping.split(), 4, 3) and not has_loop(("go to the shop " * 2).split(), 4, 3)
    assert has_loop(["la", "la", "la"], 1, 3) and not has_loop(["la", "la"], 1, 3)
    report = hallucination_report([looping, "fine", "also fine", ""], ["go to the shop", "fine", "also fine", "x"],
                                  PLAIN, LOOPS)
    assert report.loop_fraction == pytest.approx(1 / 4)
    assert hallucination_report([looping], ["go"], PLAIN, typed_defaults(HallucinationConfig, loop_count=4)
                                ).loop_fraction == 0.0


def test_empty_rate_ignores_empty_references() -> None:
    english = build_normaliser("english")
    report = hallucination_report(["", "  ", "hello", "uh"], ["one", "two", "hello", "um"], english, LOOPS)
    # "um" is empty after the English normaliser: 3 utterances count, two hypotheses are empty.
    assert report.n_utterances == 3 and report.empty_rate == pytest.approx(2 / 3)


def test_length_ratio_is_hypothesis_words_over_reference_words() -> None:
    report = hallucination_report(["a b c d e f", "g"], ["a b", "c d"], PLAIN, LOOPS)
    assert report.length_ratio == pytest.approx(7 / 4)


def test_no_reference_words_gives_nan() -> None:
    report = hallucination_report(["text"], [""], PLAIN, LOOPS)
    assert report.n_utterances == 0 and math.isnan(report.insertion_rate)
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        hallucination_report(["a", "b"], ["a"], PLAIN, LOOPS)
