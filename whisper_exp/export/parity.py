"""Parity of an exported model with the transformers model it came from.

Both transcribe the same fixed slice of evaluation clips, greedy, one 30-s window each; the report holds the
fraction of identical transcripts, each side's WER against the references, the encoder-output difference where
the backend exposes its encoder (CTranslate2), both sides' speed, and the clips that differ. Below the
identical-fraction threshold, or with a WER more than `max_wer_increase` above the source's, the export fails
(ParityError) naming those clips — conversions that silently lose quality are the
most reported problem with deployed fine-tunes (faster-whisper #825, #987, #1099).
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from whisper_exp.data.audio import AudioRef, load_audio
from whisper_exp.metrics.wer import Normaliser, score
from whisper_exp.transcribe.backends import SAMPLE_RATE, Backend, DecodeOptions

log = logging.getLogger(__name__)

METADATA_FILE = "metadata.csv"
MAX_DIFFERING_LISTED = 20


class ParityError(RuntimeError):
    """The exported model transcribes too differently from its source; the message names the clips."""


@dataclass
class Clip:
    """One evaluation clip: its name, audio and reference transcript."""

    name: str
    audio: np.ndarray
    reference: str


def load_clips(data_dir: Path, split: str, limit: int | None) -> list[Clip]:
    """The first `limit` clips (metadata order) of `split` from an audiofolder (metadata.csv: file_name,
    transcription, split), e.g. the embedded demo_sg corpus."""
    metadata = data_dir / METADATA_FILE
    if not metadata.is_file():
        raise FileNotFoundError(f"parity data: {metadata} not found (an audiofolder with metadata.csv is needed)")
    with metadata.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("split", split) == split]
    if not rows:
        raise ValueError(f"parity data: no rows with split={split!r} in {metadata}")
    rows = rows[:limit] if limit else rows
    return [Clip(name=row["file_name"], audio=load_audio(AudioRef(path=str(data_dir / row["file_name"])), SAMPLE_RATE),
                 reference=row["transcription"]) for row in rows]


@dataclass
class SideStats:
    """One model's results on the parity clips."""

    wer: float
    seconds: float
    clips_per_s: float
    real_time_factor: float  # processing seconds per second of audio


@dataclass
class ParityReport:
    """What export_report.json records for one exported model."""

    format: str
    path: str
    clips: int
    identical_fraction: float
    threshold: float
    max_wer_increase: float
    passed: bool
    reference: SideStats
    exported: SideStats
    wer_delta: float
    max_abs_encoder_diff: float | None
    differing: list[dict[str, str]] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


def transcribe_all(backend: Backend, clips: list[Clip], options: DecodeOptions) -> tuple[list[str], float]:
    """Each clip's transcript, and the seconds they took together."""
    started = time.perf_counter()
    texts = [backend.transcribe(clip.audio, options).text for clip in clips]
    return texts, time.perf_counter() - started


def _side(texts: list[str], seconds: float, clips: list[Clip], normaliser: Normaliser) -> SideStats:
    audio_s = sum(len(c.audio) for c in clips) / SAMPLE_RATE
    wer = score(texts, [c.reference for c in clips], normaliser).wer
    return SideStats(wer=wer, seconds=seconds, clips_per_s=len(clips) / seconds if seconds else 0.0,
                     real_time_factor=seconds / audio_s if audio_s else 0.0)


def _encoder_diff(reference: Backend, exported: Backend, clips: list[Clip], n: int) -> float | None:
    from whisper_exp.transcribe.backends import HfBackend

    if not isinstance(reference, HfBackend) or not clips:
        return None
    worst = 0.0
    for clip in clips[:n]:
        features = reference.features(clip.audio)
        theirs = exported.encoder_output(features)
        if theirs is None:
            return None
        ours = reference.encoder_output(features)
        worst = max(worst, float(np.abs(ours - theirs).max()))
    return worst


def check_parity(reference: Backend, exported: Backend, clips: list[Clip], normaliser: Normaliser, *,
                 fmt: str, path: str, threshold: float, max_wer_increase: float = 1.0,
                 options: DecodeOptions | None = None,
                 encoder_clips: int = 4, reference_texts: tuple[list[str], float] | None = None) -> ParityReport:
    """Transcribe `clips` with both models and compare (see the module docstring).

    `reference_texts`: the reference model's (texts, seconds) when already computed for another format.
    """
    options = options or DecodeOptions()
    ref_texts, ref_s = reference_texts or transcribe_all(reference, clips, options)
    exp_texts, exp_s = transcribe_all(exported, clips, options)
    differing = [{"clip": c.name, "transformers": r, fmt: e}
                 for c, r, e in zip(clips, ref_texts, exp_texts, strict=True) if r.strip() != e.strip()]
    identical = 1.0 - len(differing) / len(clips)
    ref_side, exp_side = _side(ref_texts, ref_s, clips, normaliser), _side(exp_texts, exp_s, clips, normaliser)
    delta = exp_side.wer - ref_side.wer
    report = ParityReport(
        format=fmt, path=path, clips=len(clips), identical_fraction=identical, threshold=threshold,
        max_wer_increase=max_wer_increase, passed=identical >= threshold and delta <= max_wer_increase,
        reference=ref_side, exported=exp_side, wer_delta=delta,
        max_abs_encoder_diff=_encoder_diff(reference, exported, clips, encoder_clips),
        differing=differing[:MAX_DIFFERING_LISTED])
    log.info("parity %s: %d/%d identical (%.1f %%), WER transformers %.4f vs %s %.4f, encoder max |diff| %s",
             fmt, len(clips) - len(differing), len(clips), 100 * identical, ref_side.wer, fmt, exp_side.wer,
             report.max_abs_encoder_diff)
    return report


def parity_failure(report: ParityReport) -> ParityError:
    """The error for a failed report, naming the differing clips."""
    names = ", ".join(d["clip"] for d in report.differing)
    more = len(report.differing) < round((1 - report.identical_fraction) * report.clips)
    return ParityError(
        f"export {report.format} ({report.path}) fails parity: {report.identical_fraction:.1%} identical transcripts "
        f"(threshold {report.threshold:.1%}) on {report.clips} clips; WER transformers {report.reference.wer:.4f} vs "
        f"{report.format} {report.exported.wer:.4f} (at most +{report.max_wer_increase:.4f}); "
        f"differing clips: {names}{' …' if more else ''}")
