"""Transcript files: plain text, SubRip (.srt), WebVTT (.vtt) and JSON (text, segments, timing)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from whisper_exp.transcribe.backends import Transcript

FORMATS = ("txt", "srt", "vtt", "json")


def _clock(seconds: float, decimal: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def render(transcript: Transcript, fmt: str, meta: dict[str, Any] | None = None) -> str:
    """`transcript` as the text of a .txt/.srt/.vtt/.json file."""
    segments = [s for s in transcript.segments if s.text.strip()]
    if fmt == "txt":
        return transcript.text.strip() + "\n"
    if fmt == "srt":
        blocks = [f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text.strip()}\n"
                  for i, s in enumerate(segments, 1)]
        return "\n".join(blocks)
    if fmt == "vtt":
        blocks = [f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text.strip()}\n" for s in segments]
        return "WEBVTT\n\n" + "\n".join(blocks)
    if fmt == "json":
        return json.dumps({"text": transcript.text, "segments": [asdict(s) for s in segments], **(meta or {})},
                          indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown transcript format {fmt!r}; choose one of {FORMATS}")
