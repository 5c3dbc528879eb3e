"""Evaluation breakdowns (``eval`` config group): WER by metadata group with speaker-bootstrap intervals,
and extra evaluation sets scored before and after fine-tuning (the forgetting guard).

* ``eval.group_by=[age_group]``: every scored set reports corpus WER per value of each listed metadata
  column (speaker, gender, age, age_group — whatever its reader records in the read context's metadata; an
  utterance without the column is in group "unknown"), logged as ``<set>/wer_by_<column>/<value>``, and
  in summary.json as ``wer_by_group`` (the primary test set) with ``wer_interval`` for the overall WER.
* Intervals (``eval.bootstrap_resamples``, ``eval.bootstrap_seed``, ``eval.confidence``): speakers are
  resampled with replacement (`metrics.groups.speaker_bootstrap`); an utterance with no known speaker
  counts as a speaker of its own.
* ``eval.extra_sets={name: source config}``: each becomes a data source whose only split is ``name`` (the
  source's own ``test`` split), appended to the validation and test sets. The named-evaluation-sets mechanism
  then scores it in the zero-shot baseline (``baseline_wer_by_set``) and with the final model
  (``wer_by_set``); summary.json's ``extra_sets`` holds both and the change (positive: worse after tuning).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from whisper_exp.config.schema import ConfigError, DataConfig, EvalConfig
from whisper_exp.metrics.groups import GroupWer, group_wer, utterance_errors, wer_by_group
from whisper_exp.metrics.wer import Normaliser

UNKNOWN = "unknown"
EXTRA_SOURCE_PREFIX = "extra_"


def add_extra_sets(data: DataConfig, settings: EvalConfig) -> None:
    """Add each of ``eval.extra_sets`` to `data` (in place) as a source with one split, scored as a named
    validation and test set after the data's own sets (which stay primary)."""
    if not settings.extra_sets:
        return
    validation = [str(n) for n in data.validation_sets] if data.validation_sets else ["validation"]
    test = [str(n) for n in data.test_sets] if data.test_sets else ["test"]
    own = {key for source in data.sources.values() for key in source.splits}
    for name, source in settings.extra_sets.items():
        if f"{EXTRA_SOURCE_PREFIX}{name}" in data.sources and name in test:
            continue  # added already (the same run config built twice)
        if "/" in name or name in own or name == "train" or f"{EXTRA_SOURCE_PREFIX}{name}" in data.sources:
            raise ConfigError(f"eval.extra_sets.{name}: the name must not contain '/' nor be a split of "
                              f"data {data.name!r} ({sorted(own)})")
        extra = copy.deepcopy(source)
        extra.splits = {name: source.splits.get("test", "test")}
        data.sources[f"{EXTRA_SOURCE_PREFIX}{name}"] = extra
        validation.append(name)
        test.append(name)
    data.validation_sets, data.test_sets = validation, test


def breakdown(predictions: Sequence[str], references: Sequence[str], ids: Sequence[str], normaliser: Normaliser,
              metadata: Mapping[str, Mapping[str, str]], settings: EvalConfig) -> dict[str, Any]:
    """Overall WER with its speaker-bootstrap interval, and WER per value of each ``group_by`` column.

    Texts are normalised as `metrics.wer.score` does; references empty after normalisation are left out.
    """
    refs, hyps, kept = [], [], []
    for pred, ref, sample_id in zip(predictions, references, ids, strict=True):
        norm_ref = normaliser(ref).strip()
        if norm_ref:
            refs.append(norm_ref)
            hyps.append(normaliser(pred).strip())
            kept.append(sample_id)
    errors, words = utterance_errors(refs, hyps)
    speakers = [metadata.get(i, {}).get("speaker") or i for i in kept]
    options = {"resamples": settings.bootstrap_resamples, "seed": settings.bootstrap_seed,
               "confidence": settings.confidence}
    overall: GroupWer = group_wer(errors, words, speakers, **options)
    by_group = {}
    for column in settings.group_by:
        values = [str(metadata.get(i, {}).get(column) or UNKNOWN) for i in kept]
        by_group[column] = {value: stats.as_dict()
                            for value, stats in wer_by_group(errors, words, speakers, values, **options).items()}
    return {"overall": overall.as_dict(), "by_group": by_group}


def breakdown_metrics(prefix: str, result: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of a breakdown as flat logger metrics (``<prefix>/wer_low`` …)."""
    overall = result["overall"]
    metrics = {f"{prefix}/wer_low": overall["low"], f"{prefix}/wer_high": overall["high"]}
    for column, values in result["by_group"].items():
        for value, stats in values.items():
            metrics[f"{prefix}/wer_by_{column}/{value}"] = stats["wer"]
    return metrics


def summary_fields(breakdowns: Mapping[str, Mapping[str, Any]], prefix: str) -> dict[str, Any]:
    """summary.json fields of the breakdown of `prefix` ("test" or "val"): interval and per-group WER."""
    result = breakdowns.get(prefix)
    if result is None:
        return {}
    overall = result["overall"]
    return {"wer_interval": [overall["low"], overall["high"]], "wer_speakers": overall["speakers"],
            "wer_by_group": dict(result["by_group"])}


def extra_set_changes(settings: EvalConfig, before: Mapping[str, float], after: Mapping[str, float]) -> dict:
    """{name: {zero_shot, final, change}} of each extra set (change = final - zero_shot; positive is worse)."""
    changes = {}
    for name in settings.extra_sets:
        zero, final = before.get(name), after.get(name)
        changes[name] = {"zero_shot": zero, "final": final,
                         "change": final - zero if zero is not None and final is not None else None}
    return changes
