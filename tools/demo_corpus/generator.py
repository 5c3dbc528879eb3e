"""Generate the embedded ``demo_sg`` data set: synthetic Singapore-flavoured English.

Sentences come from :mod:`tools.demo_corpus.sentences` (templates + slots filled
by a seeded random generator); each is spoken by one of :data:`SPEAKERS`, which are
espeak-ng voices (some of them non-English voices reading English, to imitate an
accent) with their own variant, pitch and speaking rate.  The audio is resampled to
16 kHz mono, trimmed, peak-normalised and written in the Hugging Face "audiofolder"
layout::

    <out>/metadata.csv            file_name,transcription,split,speaker,voice
    <out>/train/sg_train_0001.ogg
    <out>/validation/...
    <out>/test/...
    <out>/README.md

Run ``python -m tools.demo_corpus.generator --out whisper_exp/data/demo_sg --seed 0``.
The same seed gives the same sentences, splits, speakers and (with the same espeak-ng
version) the same audio.  Needs the ``espeak-ng`` program (``apt-get install espeak-ng``).
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from tools.demo_corpus.sentences import generate_sentences

SAMPLE_RATE = 16_000
"""Output sample rate in Hz (what Whisper expects)."""

SPLIT_SIZES: dict[str, int] = {"train": 440, "validation": 90, "test": 90}
"""Number of clips per split; sentences are never shared between splits."""

AUDIO_FORMAT = "ogg"
"""Container written: ``ogg`` (Vorbis) or ``flac`` (16-bit).  FLAC would be about 2.5x larger."""

VORBIS_QUALITY = 0.3
"""Vorbis VBR quality in [0, 1] (libsndfile ``compression_level`` is ``1 - quality``)."""

PEAK_LEVEL = 0.89
"""Peak amplitude after normalisation (about -1 dBFS)."""

TRIM_THRESHOLD_DB = -40.0
"""Frames quieter than this (relative to the loudest frame) count as silence when trimming."""

TRIM_PAD_S = (0.12, 0.18)
"""Silence kept before the first and after the last voiced frame, in seconds."""

PITCH_JITTER = 6
"""Per-clip random offset (+/-) added to a speaker's espeak-ng pitch (0-99)."""

RATE_JITTER = 10
"""Per-clip random offset (+/-) added to a speaker's espeak-ng rate (words per minute)."""

OGG_SERIAL = 0x53470000
"""Fixed Ogg stream serial number (libsndfile draws a random one), so re-runs give identical bytes."""

# The embedded corpus ships inside the package; this generator does not (it is a maintenance tool).
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "whisper_exp" / "data" / "demo_sg"
"""Where the committed copy of the data set lives."""

METADATA_COLUMNS: tuple[str, ...] = ("file_name", "transcription", "split", "speaker", "voice")

ESPEAK = "espeak-ng"


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: an espeak-ng voice, a voice variant, pitch and rate."""

    name: str
    voice: str
    variant: str
    pitch: int
    rate: int
    description: str

    @property
    def espeak_voice(self) -> str:
        """The ``-v`` argument for espeak-ng, e.g. ``cmn+f2``."""
        return f"{self.voice}+{self.variant}"


SPEAKERS: tuple[Speaker, ...] = (
    Speaker("sg01", "cmn", "m3", 45, 150, "Mandarin voice reading English, male"),
    Speaker("sg02", "cmn", "f2", 70, 145, "Mandarin voice reading English, female"),
    Speaker("sg03", "cmn", "m1", 52, 140, "Mandarin voice reading English, male, slower"),
    Speaker("sg04", "yue", "m1", 50, 150, "Cantonese voice reading English, male"),
    Speaker("sg05", "yue", "f3", 72, 150, "Cantonese voice reading English, female"),
    Speaker("sg06", "vi", "m2", 50, 135, "Vietnamese voice reading English, male (strong accent)"),
    Speaker("sg07", "en-gb-x-rp", "f3", 62, 155, "British English (RP), female"),
    Speaker("sg08", "en-us", "m2", 40, 170, "American English, male"),
    Speaker("sg09", "en-029", "m1", 50, 150, "Caribbean English, male"),
    Speaker("sg10", "en-gb-scotland", "f5", 66, 160, "Scottish English, female"),
    Speaker("sg11", "en-gb-x-gbcwmd", "m7", 45, 165, "West Midlands English, male"),
    Speaker("sg12", "en-us-nyc", "f3", 65, 155, "New York English, female"),
)
"""The speakers.  Every split uses every speaker about equally often."""


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to synthesise one clip (no audio yet)."""

    split: str
    index: int
    text: str
    speaker: Speaker
    pitch: int
    rate: int

    @property
    def file_name(self) -> str:
        """Path of the audio file relative to the data-set root."""
        return f"{self.split}/sg_{self.split}_{self.index:04d}.{AUDIO_FORMAT}"


def plan_clips(seed: int, split_sizes: dict[str, int] | None = None) -> list[ClipSpec]:
    """Draw the sentences, split them and assign speakers, pitch and rate; fully seeded.

    Sentences are distinct after normalisation, so no validation or test text occurs
    in train.  Within a split, speakers go round-robin over a seeded shuffled order, so
    all speakers appear in all splits.
    """
    sizes = dict(SPLIT_SIZES if split_sizes is None else split_sizes)
    sentences = generate_sentences(sum(sizes.values()), seed)
    rng = random.Random(f"demo_sg-speakers-{seed}")
    clips: list[ClipSpec] = []
    start = 0
    for split, size in sizes.items():
        order = list(SPEAKERS)
        rng.shuffle(order)
        for i, text in enumerate(sentences[start:start + size]):
            speaker = order[i % len(order)]
            pitch = min(99, max(0, speaker.pitch + rng.randint(-PITCH_JITTER, PITCH_JITTER)))
            rate = speaker.rate + rng.randint(-RATE_JITTER, RATE_JITTER)
            clips.append(ClipSpec(split, i + 1, text, speaker, pitch, rate))
        start += size
    return clips


def require_espeak() -> str:
    """Return the path of espeak-ng, or exit with an installation hint."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise SystemExit(
            "espeak-ng is not installed, so the demo data cannot be synthesised. "
            "Install it with `apt-get install espeak-ng` (Debian/Ubuntu) and try again."
        )
    return path


def espeak_version(espeak: str) -> str:
    """The version number reported by ``espeak-ng --version`` (e.g. ``1.51``)."""
    out = subprocess.run([espeak, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"text-to-speech:\s*(\S+)", out)
    return match.group(1) if match else "unknown version"


def synthesise(text: str, speaker: Speaker, pitch: int, rate: int, espeak: str, workdir: Path) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return 16 kHz mono float32 audio, trimmed and normalised."""
    wav = workdir / "clip.wav"
    cmd = [espeak, "-v", speaker.espeak_voice, "-p", str(pitch), "-s", str(rate), "-w", str(wav), text]
    subprocess.run(cmd, check=True, capture_output=True)
    audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    return postprocess(audio.mean(axis=1), sr)


def postprocess(audio: np.ndarray, sr: int) -> np.ndarray:
    """Resample to :data:`SAMPLE_RATE`, trim leading/trailing silence and peak-normalise."""
    if sr != SAMPLE_RATE:
        audio = soxr.resample(audio, sr, SAMPLE_RATE, quality="HQ")
    audio = trim_silence(audio.astype(np.float32), SAMPLE_RATE)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0:
        audio = audio * (PEAK_LEVEL / peak)
    return audio.astype(np.float32)


def trim_silence(audio: np.ndarray, sr: int, frame_s: float = 0.01) -> np.ndarray:
    """Cut silence at both ends, keeping :data:`TRIM_PAD_S` of margin."""
    frame = max(1, int(sr * frame_s))
    n_frames = len(audio) // frame
    if n_frames == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1) + 1e-12)
    level_db = 20 * np.log10(rms / rms.max())
    voiced = np.flatnonzero(level_db > TRIM_THRESHOLD_DB)
    begin = max(0, voiced[0] * frame - int(TRIM_PAD_S[0] * sr))
    end = min(len(audio), (voiced[-1] + 1) * frame + int(TRIM_PAD_S[1] * sr))
    return audio[begin:end]


def write_audio(path: Path, audio: np.ndarray) -> None:
    """Write mono 16 kHz audio as Ogg Vorbis or 16-bit FLAC, according to the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".ogg":
        buffer = io.BytesIO()
        sf.write(buffer, audio, SAMPLE_RATE, format="OGG", subtype="VORBIS",
                 compression_level=1 - VORBIS_QUALITY)
        path.write_bytes(set_ogg_serial(buffer.getvalue(), OGG_SERIAL))
    elif path.suffix == ".flac":
        sf.write(path, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    else:
        raise ValueError(f"unsupported audio format: {path.suffix}")


def _ogg_crc_table() -> tuple[int, ...]:
    """Lookup table for the Ogg page checksum (CRC-32, polynomial 0x04C11DB7, unreflected)."""
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_OGG_CRC = _ogg_crc_table()


def set_ogg_serial(data: bytes, serial: int) -> bytes:
    """Rewrite the stream serial number of every page of a single-stream Ogg file and fix the checksums."""
    out = bytearray(data)
    pos = 0
    while pos < len(out):
        if out[pos:pos + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {pos}")
        n_segments = out[pos + 26]
        page_end = pos + 27 + n_segments + sum(out[pos + 27:pos + 27 + n_segments])
        struct.pack_into("<I", out, pos + 14, serial)
        struct.pack_into("<I", out, pos + 22, 0)
        crc = 0
        for byte in out[pos:page_end]:
            crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
        struct.pack_into("<I", out, pos + 22, crc)
        pos = page_end
    return bytes(out)


def clean_output(out: Path) -> None:
    """Remove audio and metadata from a previous run (other files are left alone)."""
    for split in SPLIT_SIZES:
        for old in (out / split).glob("sg_*.*"):
            old.unlink()
    (out / "metadata.csv").unlink(missing_ok=True)


def build_dataset(out: Path, seed: int) -> dict[str, dict[str, float]]:
    """Synthesise every clip into ``out`` and write ``metadata.csv`` and ``README.md``.

    Returns per-split statistics (clip count, total seconds, min/max seconds).
    """
    espeak = require_espeak()
    clips = plan_clips(seed)
    out.mkdir(parents=True, exist_ok=True)
    clean_output(out)
    durations: dict[str, list[float]] = {split: [] for split in SPLIT_SIZES}
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, clip in enumerate(clips, start=1):
            audio = synthesise(clip.text, clip.speaker, clip.pitch, clip.rate, espeak, Path(tmp))
            write_audio(out / clip.file_name, audio)
            durations[clip.split].append(len(audio) / SAMPLE_RATE)
            rows.append({
                "file_name": clip.file_name,
                "transcription": clip.text,
                "split": clip.split,
                "speaker": clip.speaker.name,
                "voice": clip.speaker.espeak_voice,
            })
            if n % 100 == 0:
                print(f"{n}/{len(clips)} clips", file=sys.stderr)
    with (out / "metadata.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=METADATA_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    stats = {
        split: {"clips": len(d), "seconds": sum(d), "min_s": min(d), "max_s": max(d)}
        for split, d in durations.items()
    }
    size_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and p.name != "README.md")
    (out / "README.md").write_text(render_readme(stats, seed, espeak_version(espeak), size_bytes, clips),
                                   encoding="utf-8")
    return stats


def render_readme(stats: dict[str, dict[str, float]], seed: int, version: str, size_bytes: int,
                  clips: list[ClipSpec]) -> str:
    """The data card written next to ``metadata.csv``."""
    per_speaker = Counter((c.speaker.name, c.split) for c in clips)
    speaker_rows = "\n".join(
        f"| {s.name} | `{s.espeak_voice}` | {s.pitch} | {s.rate} | {s.description} | "
        + " / ".join(str(per_speaker[(s.name, split)]) for split in SPLIT_SIZES) + " |"
        for s in SPEAKERS
    )
    split_rows = "\n".join(
        f"| {split} | {int(st['clips'])} | {st['seconds'] / 60:.1f} min "
        f"| {st['min_s']:.1f}-{st['max_s']:.1f} s |"
        for split, st in stats.items()
    )
    fmt = "Ogg Vorbis" if AUDIO_FORMAT == "ogg" else "FLAC 16-bit"
    return f"""# demo_sg: synthetic Singapore-flavoured English (espeak-ng)

**This is synthetic speech.**  Every clip was produced by the espeak-ng {version}
formant synthesiser reading sentences that this project wrote itself.  No human
voice and no third-party text are involved.  This file is generated by
`tools/demo_corpus/generator.py`; edit the generator, not this file.

## What it is for

- Showing that the data pipeline, training loop and evaluation run end to end,
  offline, with no download.
- Quick smoke tests and CI: loss should go down and WER should move when
  fine-tuning on `train` and scoring on `test`.

## What it cannot show

- Real accent adaptation: espeak-ng voices (even the Mandarin, Cantonese and
  Vietnamese voices reading English) are robotic and do not sound like Singaporeans.
- Real word error rates: numbers measured here say nothing about performance on
  real Singapore English (e.g. the National Speech Corpus).  Gains mostly reflect
  learning espeak-ng's sound and this small, templated vocabulary.

## Content

Everyday Singapore topics: MRT lines and stations, hawker food and drinks, HDB
flats and blocks, prices, dates, times, phone numbers and postal codes (all spelled
out in words, so the transcript is exactly what is spoken), names from the Chinese,
Malay, Indian and Eurasian communities, errands and Singlish particles (lah, leh,
lor, meh, hor, can or not).  Sentences are generated from templates with a seeded
random generator; every sentence is unique after normalisation (lower case, no
punctuation), so no validation or test sentence appears in train, while all splits
share the same vocabulary of places, foods and names.  All speakers appear in all
splits.

| split | clips | total duration | clip length |
| --- | --- | --- | --- |
{split_rows}

Audio: {fmt}, {SAMPLE_RATE} Hz, mono, leading/trailing silence trimmed, peak-normalised
to about -1 dBFS.  Size on disk: {size_bytes / 1e6:.1f} MB.

## Speakers

Pitch and rate are the speaker's base espeak-ng values (`-p`, `-s` in words per
minute); each clip adds a seeded random offset of up to +/-{PITCH_JITTER} pitch
and +/-{RATE_JITTER} wpm.  Non-English voices reading English stand in for an accent.  Not
used: `ms` (Malay reading English is unintelligible) and `ta`/`hi` (they switch to
the English voice on Latin text).

| speaker | espeak-ng voice | pitch | rate | description | clips train / validation / test |
| --- | --- | --- | --- | --- | --- |
{speaker_rows}

## Layout

Hugging Face "audiofolder": `metadata.csv` with columns
`{",".join(METADATA_COLUMNS)}` and audio under `train/`, `validation/` and `test/`.

```python
import csv, soundfile as sf
rows = list(csv.DictReader(open("whisper_exp/data/demo_sg/metadata.csv")))
audio, sr = sf.read("whisper_exp/data/demo_sg/" + rows[0]["file_name"])  # sr == {SAMPLE_RATE}
```

With Hugging Face `datasets` (its `Audio` feature needs `torchcodec` and FFmpeg):
`load_dataset("audiofolder", data_dir="whisper_exp/data/demo_sg")`.

## Regenerating

```bash
apt-get install espeak-ng
python -m tools.demo_corpus.generator --out whisper_exp/data/demo_sg --seed {seed}
```

The same seed always gives the same sentences, splits and speaker assignment; the
audio is identical as long as the espeak-ng version is the same.

## Licence

The sentences were written for this project and the audio is espeak-ng output of
that text, so the data set is this project's own data and is distributed under the
project's licence.
"""


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output directory (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for text and speakers (default: 0)")
    args = parser.parse_args(argv)
    stats = build_dataset(args.out, args.seed)
    for split, st in stats.items():
        print(f"{split}: {int(st['clips'])} clips, {st['seconds']:.0f} s "
              f"({st['min_s']:.1f}-{st['max_s']:.1f} s per clip)")


if __name__ == "__main__":
    main()
