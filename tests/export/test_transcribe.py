"""`python -m whisper_exp.transcribe` on short, long (> 30 s), silent, empty, corrupt, missing and 3-hour files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import DEMO_DIR, SAMPLE_RATE, demo_rows

from whisper_exp.data.audio import AudioRef, load_audio
from whisper_exp.metrics.wer import build_normaliser, score
from whisper_exp.transcribe import InputLimits, check_input
from whisper_exp.transcribe.__main__ import main as transcribe_main
from whisper_exp.transcribe.backends import Segment, Transcript
from whisper_exp.transcribe.formats import render


def _bad_inputs(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    silent = root / "silent.wav"
    sf.write(silent, np.zeros(3 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    empty = root / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    corrupt = root / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" + bytes(range(256)))
    three_hours = root / "three_hours.wav"  # 3 h in the header, 2 MB on disk (100-Hz samples)
    sf.write(three_hours, np.zeros(3 * 3600 * 100, dtype=np.int16), 100, subtype="PCM_16")
    return {"silent": silent, "empty": empty, "unreadable": corrupt, "too_long": three_hours,
            "missing": root / "missing.wav"}


def test_bad_inputs_are_named_and_counted(tmp_path: Path) -> None:
    for status, path in _bad_inputs(tmp_path).items():
        audio, result = check_input(path, InputLimits())
        assert audio is None and result.status == status, (path, result)
        assert path.name in result.message


def test_formats_render_times() -> None:
    transcript = Transcript("hello there. bye", [Segment(0.0, 1.5, "hello there."), Segment(3661.25, 3662.0, "bye")])
    srt = render(transcript, "srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nhello there.\n") and "01:01:01,250 --> 01:01:02,000" in srt
    assert render(transcript, "vtt").startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nhello there.")
    assert json.loads(render(transcript, "json", {"backend": "hf"}))["segments"][1]["start"] == 3661.25


@pytest.mark.slow
def test_transcribe_short_long_and_bad_files(tiny_en_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    rows = demo_rows("test", 12)
    short = DEMO_DIR / rows[0]["file_name"]
    gap = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    long_audio = np.concatenate([part for r in rows for part in
                                 (load_audio(AudioRef(path=str(DEMO_DIR / r["file_name"])), SAMPLE_RATE), gap)])
    assert len(long_audio) / SAMPLE_RATE > 45  # several 30-s windows
    long_file = tmp_path / "long.wav"
    sf.write(long_file, long_audio, SAMPLE_RATE)
    bad = _bad_inputs(tmp_path / "bad")
    out = tmp_path / "out"
    status = transcribe_main([str(tiny_en_dir), str(short), str(long_file), *map(str, bad.values()),
                              "--format", "json", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert status == 1  # some files were skipped
    assert "2 transcribed, 5 skipped (empty: 1, missing: 1, silent: 1, too_long: 1, unreadable: 1)" in printed
    assert "real-time factor" in printed
    normaliser = build_normaliser("english")
    short_json = json.loads((out / f"{short.stem}.json").read_text())
    assert score([short_json["text"]], [rows[0]["transcription"]], normaliser).wer < 0.6
    long_json = json.loads((out / "long.json").read_text())
    assert len(long_json["segments"]) >= 3 and long_json["segments"][-1]["end"] > 30
    reference = " ".join(r["transcription"] for r in rows)
    assert score([long_json["text"]], [reference], normaliser).wer < 0.6
    assert not (out / "silent.json").exists()
    # output next to the input by default, as SubRip
    copy = tmp_path / "next_to" / short.name
    copy.parent.mkdir()
    copy.write_bytes(short.read_bytes())
    assert transcribe_main([str(tiny_en_dir), str(copy), "--format", "srt", "--no-progress"]) == 0
    assert copy.with_suffix(".srt").read_text().startswith("1\n00:00:00,000 --> ")


def test_missing_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert transcribe_main([str(tmp_path / "nope"), str(tmp_path / "a.wav")]) == 2
    assert "cannot load model" in capsys.readouterr().err


@pytest.mark.slow
def test_transcribe_long_file_with_ct2_and_ggml(tiny_en_dir: Path, tmp_path: Path) -> None:
    """faster-whisper's and whisper.cpp's own long-form decoding through the same command."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("pywhispercpp")
    from whisper_exp.export.ct2 import export_ct2
    from whisper_exp.export.ggml import write_ggml

    rows = demo_rows("test", 10)
    gap = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)  # speakers pause; without pauses whisper.cpp drops words
    long_audio = np.concatenate([part for r in rows for part in
                                 (load_audio(AudioRef(path=str(DEMO_DIR / r["file_name"])), SAMPLE_RATE), gap)])
    long_file = tmp_path / "long.wav"
    sf.write(long_file, long_audio, SAMPLE_RATE)
    reference = " ".join(r["transcription"] for r in rows)
    models = {"ct2": export_ct2(tiny_en_dir, tmp_path / "ct2"), "ggml": write_ggml(tiny_en_dir, tmp_path / "m.bin")}
    for backend, model in models.items():
        out = tmp_path / backend
        assert transcribe_main([str(model), str(long_file), "--format", "vtt", "--out", str(out), "--no-progress",
                                "--threads", "1"]) == 0
        vtt = (out / "long.vtt").read_text()
        assert vtt.startswith("WEBVTT") and vtt.count(" --> ") >= 3, backend
        text = " ".join(line for line in vtt.splitlines()[2:] if line and " --> " not in line)
        assert score([text], [reference], build_normaliser("english")).wer < 0.6, backend
