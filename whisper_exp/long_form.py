"""Long-form evaluation (``eval.long_form``): what a fine-tune does to audio longer than one 30-s window.

Consecutive clips of one evaluation set are joined into 2–5-minute recordings (data.long_form) and each is
transcribed whole by the `transcribe` command's long-form algorithm (transcribe.backends.HfBackend:
transformers' sequential decoding, which seeks through 30-s windows by the predicted timestamps; greedy, fp32).
Reported beside the short-form scores of the same clips (the evaluation pass that scored the set):

* ``wer`` (long-form) and ``short_form_wer`` of the clips the recordings hold, and ``wer_gap`` (long − short);
* ``boundary_accuracy``: of the true boundaries between consecutive clips, the fraction with a predicted
  segment start or end within ``boundary_tolerance_seconds`` of the gap between them; ``segments_per_clip``
  says whether the boundaries were found by cutting everywhere;
* the hallucination metrics (metrics.hallucination) per recording.

RUN_DIR/long_form.json keeps every recording's plan, reference, hypothesis and segments.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from whisper_exp.config.schema import EvalConfig
from whisper_exp.data.audio import AudioRef, load_audio
from whisper_exp.data.datamodule import SpeechDataModule
from whisper_exp.data.long_form import Recording, RecordingPlan, build_recording, plan_recordings
from whisper_exp.data.pipeline import evaluation_sets, split_kind
from whisper_exp.metrics.hallucination import hallucination_report
from whisper_exp.metrics.wer import Normaliser, score
from whisper_exp.transcribe.backends import Backend, DecodeOptions, Segment

log = logging.getLogger(__name__)

LONG_FORM_FILE = "long_form.json"
EVAL_PREFIXES = {"validation": "val", "test": "test"}


def boundary_hits(plan: RecordingPlan, segments: Sequence[Segment], tolerance: float) -> list[bool]:
    """For each true boundary of `plan`, whether a segment starts or ends within `tolerance` of its gap."""
    predicted = [time for segment in segments for time in (segment.start, segment.end)]
    return [any(end - tolerance <= t <= start + tolerance for t in predicted) for end, start in plan.boundaries()]


def eval_prefix(datamodule: SpeechDataModule, split: str) -> str:
    """The logging prefix under which the task scored set `split` ("test", "val/dev-clean", …)."""
    kind = split_kind(datamodule.data, split)
    if kind not in EVAL_PREFIXES:
        raise ValueError(f"eval.long_form.split={split!r} is not an evaluation set of data "
                         f"{datamodule.data.name!r} (validation: {datamodule.validation_sets}, "
                         f"test: {datamodule.test_sets})")
    prefix = EVAL_PREFIXES[kind]
    return prefix if len(evaluation_sets(datamodule.data, kind)) <= 1 else f"{prefix}/{split}"


def long_form_recordings(datamodule: SpeechDataModule, split: str, settings: EvalConfig
                         ) -> tuple[list[Recording], list[str], int]:
    """The recordings of set `split`, the ids of its clips (in set order) and how many clips were left out."""
    prepared = datamodule.split(split)
    table = datamodule.tables.read(split)
    rows = {sample_id: row for row, sample_id in enumerate(table["id"])}
    rate = datamodule.data.sampling_rate
    audio = [load_audio(AudioRef.from_datasets(table[rows[i]]["audio"]), rate) for i in prepared.ids]
    plans, unused = plan_recordings([len(clip) / rate for clip in audio], settings.long_form)
    recordings = [build_recording(plan, audio.__getitem__, prepared.texts, rate) for plan in plans]
    return recordings, prepared.ids, unused


def evaluate_long_form(backend: Backend, recordings: Sequence[Recording], clip_ids: Sequence[str],
                       clip_texts: Sequence[str], short_predictions: Mapping[str, str], normaliser: Normaliser,
                       settings: EvalConfig, sampling_rate: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(numbers for summary.json and the logger, per-recording details for long_form.json)."""
    started = time.perf_counter()
    transcripts = [backend.transcribe(recording.audio, DecodeOptions(timestamps=True, long_form="sequential"))
                   for recording in recordings]
    seconds = time.perf_counter() - started
    tolerance = settings.long_form.boundary_tolerance_seconds
    hits = [boundary_hits(r.plan, t.segments, tolerance) for r, t in zip(recordings, transcripts, strict=True)]
    found = [hit for per_recording in hits for hit in per_recording]
    used = [placed.clip for recording in recordings for placed in recording.plan.clips]
    hyps, refs = [t.text for t in transcripts], [r.reference for r in recordings]
    short = [short_predictions.get(clip_ids[i]) for i in used]
    short_wer = (score([s or "" for s in short], [clip_texts[i] for i in used], normaliser).wer
                 if used and all(s is not None for s in short) else None)
    long_wer = score(hyps, refs, normaliser).wer
    audio_s = sum(len(r.audio) for r in recordings) / sampling_rate
    numbers = {
        "wer": long_wer, "short_form_wer": short_wer,
        "wer_gap": long_wer - short_wer if short_wer is not None else None,
        "boundary_accuracy": sum(found) / len(found) if found else None, "boundaries": len(found),
        "segments_per_clip": sum(len(t.segments) for t in transcripts) / max(1, len(used)),
        "recordings": len(recordings), "recording_seconds": [round(r.plan.seconds, 2) for r in recordings],
        "clips": len(used), "unused_clips": len(clip_ids) - len(used),
        "transcribe_seconds": seconds, "real_time_factor": seconds / audio_s if audio_s else None,
        "hallucination": hallucination_report(hyps, refs, normaliser, settings.hallucination).as_dict(),
    }
    details = [{"clips": [clip_ids[p.clip] for p in r.plan.clips],
                "clip_times": [[p.start, p.end] for p in r.plan.clips], "reference": r.reference,
                "hypothesis": t.text, "segments": [[s.start, s.end, s.text] for s in t.segments],
                "boundaries_found": h} for r, t, h in zip(recordings, transcripts, hits, strict=True)]
    return numbers, details


def run_long_form(backend: Backend, datamodule: SpeechDataModule, short_predictions: Mapping[str, Mapping[str, str]],
                  normaliser: Normaliser, settings: EvalConfig, run_dir: Path | None) -> dict[str, Any]:
    """Long-form evaluation of `settings.long_form.split` (see module doc); writes RUN_DIR/long_form.json."""
    split = settings.long_form.split
    prefix = eval_prefix(datamodule, split)
    recordings, ids, _ = long_form_recordings(datamodule, split, settings)
    if not recordings:
        raise ValueError(f"eval.long_form: the {len(ids)} clips of set {split!r} make no recording of at least "
                         f"{settings.long_form.min_seconds:g} s; lower eval.long_form.min_seconds")
    log.info("long-form: %d recordings (%s s) from %d clips of %r", len(recordings),
             ", ".join(f"{r.plan.seconds:.0f}" for r in recordings), len(ids), split)
    numbers, details = evaluate_long_form(backend, recordings, ids, datamodule.split(split).texts,
                                          short_predictions.get(prefix, {}), normaliser, settings,
                                          datamodule.data.sampling_rate)
    numbers["split"] = split
    log.info("long-form WER %.4f (short-form %s on the same clips), boundary accuracy %s, RTF %.3f",
             numbers["wer"], _fmt(numbers["short_form_wer"]), _fmt(numbers["boundary_accuracy"]),
             numbers["real_time_factor"] or 0.0)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / LONG_FORM_FILE).write_text(json.dumps({"numbers": numbers, "recordings": details}, indent=2))
    return numbers


def long_form_metrics(numbers: Mapping[str, Any]) -> dict[str, float]:
    """The logger metrics of a long-form evaluation (``long_form/wer`` …)."""
    keys = ("wer", "short_form_wer", "wer_gap", "boundary_accuracy", "segments_per_clip", "real_time_factor")
    metrics = {f"long_form/{key}": float(numbers[key]) for key in keys if numbers.get(key) is not None}
    metrics.update({f"long_form/{name}": float(value) for name, value in numbers["hallucination"].items()
                    if name != "n_utterances"})
    return metrics


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
