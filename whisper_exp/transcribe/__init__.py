"""Transcribe audio files of any length with a whisper_exp model in any of its deployed formats.

`transcribe_files` checks each file before decoding it: missing, unreadable, empty (0 s), silent and
over-long files are skipped with a message naming the file and counted; the rest are transcribed and written
next to the input (or into `out_dir`) as txt / srt / vtt / json, with the real-time factor reported.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from whisper_exp.data.audio import AudioError, AudioRef, load_audio
from whisper_exp.transcribe.backends import SAMPLE_RATE, Backend, DecodeOptions
from whisper_exp.transcribe.formats import render

log = logging.getLogger(__name__)


@dataclass
class InputLimits:
    """Which inputs are skipped rather than transcribed."""

    max_duration_s: float = 7200.0  # longer files are skipped (split them, or raise the limit)
    silence_dbfs: float = -60.0  # RMS level under which a file counts as silent (Whisper hallucinates on silence)


@dataclass
class FileResult:
    """What happened to one input file."""

    path: str
    status: str  # transcribed | missing | unreadable | empty | silent | too_long
    message: str = ""
    output: str | None = None
    audio_s: float = 0.0
    seconds: float = 0.0

    @property
    def real_time_factor(self) -> float:
        """Processing seconds per second of audio."""
        return self.seconds / self.audio_s if self.audio_s else 0.0


@dataclass
class RunReport:
    """All files of one transcribe call."""

    results: list[FileResult] = field(default_factory=list)

    @property
    def skipped(self) -> Counter:
        """Skipped files by reason."""
        return Counter(r.status for r in self.results if r.status != "transcribed")

    @property
    def real_time_factor(self) -> float:
        """Over all transcribed files."""
        done = [r for r in self.results if r.status == "transcribed"]
        audio = sum(r.audio_s for r in done)
        return sum(r.seconds for r in done) / audio if audio else 0.0


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level in dB relative to full scale (-inf for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def check_input(path: Path, limits: InputLimits) -> tuple[np.ndarray | None, FileResult]:
    """Decoded 16-kHz audio, or None with the reason it is skipped."""
    result = FileResult(path=str(path), status="transcribed")
    if not path.is_file():
        result.status, result.message = "missing", f"{path}: no such file"
        return None, result
    try:
        info = sf.info(str(path))
    except Exception as err:  # libsndfile raises several types; all mean "cannot read this file"
        result.status, result.message = "unreadable", f"{path}: cannot read audio ({err})"
        return None, result
    duration = info.frames / info.samplerate if info.samplerate > 0 else 0.0
    if duration > limits.max_duration_s:
        result.status = "too_long"
        result.message = (f"{path}: {duration / 3600:.2f} h is longer than the limit "
                          f"{limits.max_duration_s:.0f} s (--max-duration-s); split it or raise the limit")
        return None, result
    try:
        audio = load_audio(AudioRef(path=str(path)), SAMPLE_RATE)
    except AudioError as err:
        status = "empty" if "zero length" in str(err) else "unreadable"
        result.status, result.message = status, str(err)
        return None, result
    result.audio_s = len(audio) / SAMPLE_RATE
    level = rms_dbfs(audio)
    if level < limits.silence_dbfs:
        result.status = "silent"
        result.message = (f"{path}: silent (RMS {level:.1f} dBFS < {limits.silence_dbfs:.0f} dBFS); "
                          "not transcribed, Whisper invents text on silence")
        return None, result
    return audio, result


def output_path(path: Path, fmt: str, out_dir: Path | None) -> Path:
    """Where the transcript of `path` goes: next to it, or into `out_dir`."""
    return (out_dir or path.parent) / f"{path.stem}.{fmt}"


def transcribe_files(backend: Backend, paths: list[Path], options: DecodeOptions, fmt: str = "txt",
                     out_dir: Path | None = None, limits: InputLimits | None = None,
                     progress: bool = True) -> RunReport:
    """Transcribe each file of `paths` (see the module docstring)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    limits = limits or InputLimits()
    report = RunReport()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} files"),
               TimeElapsedColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task("transcribing", total=len(paths))
        for path in paths:
            bar.update(task, description=f"transcribing {path.name}")
            audio, result = check_input(path, limits)
            if audio is not None:
                started = time.perf_counter()
                transcript = backend.transcribe(audio, options)
                result.seconds = time.perf_counter() - started
                target = output_path(path, fmt, out_dir)
                meta = {"audio": str(path), "duration_s": result.audio_s, "backend": backend.name,
                        "seconds": result.seconds, "real_time_factor": result.real_time_factor}
                target.write_text(render(transcript, fmt, meta), encoding="utf-8")
                result.output = str(target)
                result.message = (f"{path} → {target} ({result.audio_s:.1f} s audio in {result.seconds:.1f} s, "
                                  f"real-time factor {result.real_time_factor:.3f})")
            report.results.append(result)
            bar.console.print(result.message if result.status == "transcribed" else f"skipped: {result.message}")
            bar.advance(task)
    return report
