"""Grouped corpus WER and the speaker bootstrap on synthetic numbers with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import EvalConfig
from whisper_exp.evaluation import breakdown
from whisper_exp.metrics.groups import corpus_wer, speaker_bootstrap, utterance_errors, wer_by_group


def test_utterance_errors_count_substitutions_deletions_and_insertions() -> None:
    errors, words = utterance_errors(["a b c", "x y", "p q r s"], ["a c d e", "x y z", "p q r s"])
    assert errors.tolist() == [3, 1, 0] and words.tolist() == [3, 2, 4]
    assert corpus_wer(errors, words) == pytest.approx(4 / 9)


def test_bootstrap_of_identical_speakers_is_a_point() -> None:
    low, high = speaker_bootstrap([1, 2, 3, 4], [10, 20, 30, 40], ["a", "b", "c", "d"], resamples=200, seed=0)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)


def test_bootstrap_of_two_speakers_spans_their_extremes() -> None:
    # Speaker a: 1 error / 10 words (two utterances), speaker b: 3 / 10. Draws of two speakers give 0.1 (aa),
    # 0.2 (ab, ba) or 0.3 (bb) with probabilities 1/4, 1/2, 1/4: the 95 % interval is [0.1, 0.3].
    errors, words, speakers = [0, 1, 3], [5, 5, 10], ["a", "a", "b"]
    assert speaker_bootstrap(errors, words, speakers, resamples=4000, seed=1) == pytest.approx((0.1, 0.3))
    # A 40 % interval lies inside the middle outcome.
    assert speaker_bootstrap(errors, words, speakers, resamples=4000, seed=1, confidence=0.4) == pytest.approx(
        (0.2, 0.2))
    assert all(np.isnan(speaker_bootstrap(errors, words, speakers, resamples=0, seed=1)))


def test_utterances_are_not_resampled_one_by_one() -> None:
    # One speaker with all the errors: resampling utterances would narrow the interval; speakers cannot.
    errors, words = [5] * 10 + [0] * 10, [10] * 20
    speakers = ["bad"] * 10 + ["good"] * 10
    low, high = speaker_bootstrap(errors, words, speakers, resamples=2000, seed=0)
    assert (low, high) == pytest.approx((0.0, 0.5))
    assert speaker_bootstrap(errors, words, speakers, resamples=5, seed=3) == speaker_bootstrap(
        errors, words, speakers, resamples=5, seed=3)


def test_wer_by_group() -> None:
    result = wer_by_group([2, 0, 1, 5], [10, 10, 4, 6], ["s1", "s2", "s3", "s3"], ["adult", "adult", "child", "child"],
                          resamples=100, seed=0)
    assert result["adult"].wer == pytest.approx(0.1) and result["adult"].speakers == 2
    assert result["child"].wer == pytest.approx(0.6) and result["child"].utterances == 2
    assert np.isnan(result["child"].low) and np.isnan(result["child"].high)  # one speaker: no interval
    assert result["adult"].low == pytest.approx(0.0) and result["adult"].high == pytest.approx(0.2)


def test_breakdown_groups_by_metadata_and_normalises() -> None:
    metadata = {"u1": {"speaker": "s1", "age_group": "child"}, "u2": {"speaker": "s2", "age_group": "adult"},
                "u3": {"speaker": "s2", "age_group": "adult"}}
    result = breakdown(["Hello world", "good", "", "x"], ["hello world", "good morning", "zero one", "  "],
                       ["u1", "u2", "u3", "u4"], lambda text: text.lower(), metadata,
                       typed_defaults(EvalConfig, group_by=["age_group", "gender"], bootstrap_resamples=50))
    assert result["overall"]["wer"] == pytest.approx(3 / 6) and result["overall"]["utterances"] == 3
    assert result["by_group"]["age_group"]["child"]["wer"] == 0.0
    assert result["by_group"]["age_group"]["adult"]["wer"] == pytest.approx(3 / 4)
    assert list(result["by_group"]["gender"]) == ["unknown"]
