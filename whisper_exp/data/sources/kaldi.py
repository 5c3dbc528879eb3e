"""Kaldi data dirs (the layout Kaldi, ESPnet, WeNet and icefall ship corpora in), read into the common schema.

A data dir holds whitespace-separated ``<key> <value>`` text files:

* ``wav.scp`` (required): ``<recording id> <audio path>``. Relative paths are resolved against
  ``kaldi.audio_root``, by default the data dir's parent (Kaldi recipes write them relative to the recipe
  folder, e.g. ``WAVE/SPEAKER0001/000010011.flac`` beside ``train/``). Piped commands (``sox x.wav -t wav - |``)
  and archive offsets (``foo.ark:123``) are not run or read: each is a fault naming file and line.
* ``text`` (required): ``<utterance id> <transcript>`` — one row per utterance; the rows the split is made of.
* ``segments`` (optional): ``<utterance id> <recording id> <start s> <end s>``: the utterance is that part of
  the recording (cut when the table is built and kept as WAV bytes, so only for corpora that fit in memory);
  without it, utterance ids are recording ids.
* ``utt2spk`` (optional): the speaker of each utterance; ``spk2gender``, ``spk2age`` (optional): speaker
  metadata; ``utt2dur`` (optional): durations (seconds), else read from the audio header when decoded.

Faults (``data.on_error``: raise naming file and line, or skip and count): a text row without a wav.scp
(or segments) entry, a duplicate id in any file (the first is kept), a missing audio file, a pipe or ark
entry, a bad segments line. A recording in wav.scp without text (and no segments) is counted as
"no transcript". Text files are read with `text_encoding.read_text` (BOM, else UTF-8, else data.encoding).

Metadata: speaker, gender, age and age_group (``kaldi.age_group_*``) of each utterance are recorded in the
read context's ``metadata`` (by sample id), where grouped evaluation finds them (whisper_exp/evaluation.py).

Splits: a split names a data dir under ``path`` (``splits: {train: train, validation: dev, test: test}``).
With ``kaldi.carve_from=train``, the split names ``train``/``validation``/``test`` are speaker-disjoint
parts of that data dir (`data.speakers.speaker_splits`, fixed ``kaldi.split_seed``, optionally stratified
by a metadata column); a data dir named ``kaldi.official_test`` that exists is then the test set, in full.

Why not lhotse's Kaldi import: it would add five packages (audioread, cytoolz, intervaltree, click, tabulate)
for a format of five text files, resolves relative paths against the working directory rather than the recipe
folder, runs piped commands through a shell, and returns its own manifests rather than our schema and faults.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf
from datasets import Dataset

from whisper_exp.config.schema import KaldiConfig, SourceConfig
from whisper_exp.data.audio import UNREADABLE, AudioError, encode_wav
from whisper_exp.data.errors import DataError, DropCounter, MissingSplitError
from whisper_exp.data.schema import dataset_from_records, empty_records
from whisper_exp.data.speakers import age_group, speaker_splits
from whisper_exp.data.text_encoding import read_text

REQUIRED = ("wav.scp", "text")
CARVED = ("train", "validation", "test")
ARK_OFFSET = re.compile(r"(^ark:|\.ark:\d+$)")
DUPLICATE_ID = "duplicate id"
NO_AUDIO_ENTRY = "no wav.scp entry"
NO_TRANSCRIPT = "no transcript"
UNSUPPORTED_ENTRY = "unsupported wav.scp entry"
BAD_SEGMENT = "bad segments line"


@dataclass(frozen=True)
class Line:
    """One ``<key> <value>`` line and where it came from."""

    value: str
    where: str


@dataclass
class DataDir:
    """The parsed files of one data dir (value per key, first occurrence kept)."""

    path: Path
    files: dict[str, dict[str, Line]] = field(default_factory=dict)

    def get(self, name: str) -> dict[str, Line]:
        return self.files.get(name, {})


def _read_table(path: Path, source: str, on_error: str, drops: DropCounter, encoding: str | None,
                allow_empty_value: bool = False) -> dict[str, Line]:
    """{key: Line} of a Kaldi key-value file; duplicate keys and lines without a value are faults."""
    table: dict[str, Line] = {}
    for number, raw in enumerate(read_text(path, encoding).splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split(maxsplit=1)
        where = f"{path}:{number}"
        key, value = parts[0], (parts[1].strip() if len(parts) > 1 else "")
        if not value and not allow_empty_value:
            drops.fault(on_error, source, f"bad {path.name} line", f"{where}: {key!r} has no value")
            continue
        if key in table:
            drops.fault(on_error, source, DUPLICATE_ID, f"{where}: id {key!r} again (first at {table[key].where}); "
                        "ids must be unique in a Kaldi file")
            continue
        table[key] = Line(value, where)
    return table


def read_data_dir(path: Path, source: str, on_error: str, drops: DropCounter,
                  encoding: str | None = None) -> DataDir:
    """Parse the files of Kaldi data dir `path` (see module doc); missing required files raise."""
    for name in REQUIRED:
        if not (path / name).is_file():
            raise DataError(f"[{source}] {path} is not a Kaldi data dir: {name} not found (it needs wav.scp and text)")
    parsed = DataDir(path)
    for name in ("wav.scp", "text", "segments", "utt2spk", "spk2gender", "spk2age", "utt2dur"):
        if (path / name).is_file():
            parsed.files[name] = _read_table(path / name, source, on_error, drops, encoding,
                                             allow_empty_value=name == "text")
    return parsed


def _audio_path(value: str, where: str, audio_root: Path) -> str:
    """The file a wav.scp value names; AudioError (unsupported entry) for pipes and ark offsets."""
    if value.endswith("|"):
        raise AudioError(f"{where}: piped command {value!r} is not run; write the audio to files and list their "
                         "paths in wav.scp (e.g. with Kaldi's wav-copy or sox)", UNSUPPORTED_ENTRY)
    if ARK_OFFSET.search(value):
        raise AudioError(f"{where}: archive offset {value!r} is not read; extract the audio to files "
                         "(wav-copy ark:… ark,scp:…) and list their paths", UNSUPPORTED_ENTRY)
    file = Path(value).expanduser()
    return str(file if file.is_absolute() else audio_root / file)


def _segment_bytes(audio: str, start: float, end: float) -> bytes:
    """The [start, end) seconds of `audio`, as WAV bytes."""
    with sf.SoundFile(audio) as handle:
        rate = handle.samplerate
        handle.seek(min(round(start * rate), handle.frames))
        samples = handle.read(max(0, round(end * rate) - round(start * rate)), dtype="float32")
    if len(samples) == 0:
        raise AudioError(f"segment [{start}, {end}) s of {audio} holds no samples", UNREADABLE)
    return encode_wav(samples, rate)


def _float(value: str | None) -> float:
    try:
        return float(value) if value is not None else math.nan
    except ValueError:
        return math.nan


@dataclass
class Row:
    """One usable utterance."""

    uid: str
    audio: dict[str, Any]
    text: str
    duration: float
    meta: dict[str, str]


def utterances(data_dir: DataDir, source: str, options: KaldiConfig, on_error: str, drops: DropCounter,
               audio_root: Path) -> list[Row]:
    """The usable utterances of a parsed data dir, in `text` order (faults counted or raised)."""
    wav, text, segments = data_dir.get("wav.scp"), data_dir.get("text"), data_dir.get("segments")
    utt2spk, utt2dur = data_dir.get("utt2spk"), data_dir.get("utt2dur")
    spk2gender, spk2age = data_dir.get("spk2gender"), data_dir.get("spk2age")
    has_segments = "segments" in data_dir.files
    if not has_segments:
        for recording, line in wav.items():
            if recording not in text:
                drops.drop(source, NO_TRANSCRIPT, f"{line.where}: recording {recording} has no line in text")
    rows: list[Row] = []
    for uid, transcript in text.items():
        where = transcript.where
        start = end = math.nan
        recording = uid
        if has_segments:
            if uid not in segments:
                drops.fault(on_error, source, NO_AUDIO_ENTRY, f"{where}: utterance {uid} has no line in segments")
                continue
            fields = segments[uid].value.split()
            start, end = (_float(fields[1]), _float(fields[2])) if len(fields) == 3 else (math.nan, math.nan)
            if len(fields) != 3 or not (0 <= start < end):
                drops.fault(on_error, source, BAD_SEGMENT, f"{segments[uid].where}: expected '<utt> <recording> "
                            f"<start s> <end s>' with 0 <= start < end, got {segments[uid].value!r}")
                continue
            recording = fields[0]
        if recording not in wav:
            drops.fault(on_error, source, NO_AUDIO_ENTRY,
                        f"{where}: utterance {uid}: recording {recording} has no line in wav.scp")
            continue
        entry = wav[recording]
        try:
            audio_path = _audio_path(entry.value, entry.where, audio_root)
            if not Path(audio_path).is_file():
                raise AudioError(f"{entry.where}: audio file not found: {audio_path}", UNREADABLE)
            audio: dict[str, Any] = {"path": audio_path, "bytes": None}
            duration = _float(utt2dur[uid].value) if uid in utt2dur else math.nan
            if has_segments:
                audio = {"path": f"{audio_path}#{start:.3f}-{end:.3f}", "bytes": _segment_bytes(audio_path, start, end)}
                duration = end - start
        except AudioError as err:
            drops.fault(on_error, source, err.reason, f"{where}: utterance {uid}: {err}")
            continue
        except (RuntimeError, OSError) as err:  # soundfile: cannot open / seek the recording of a segment
            drops.fault(on_error, source, UNREADABLE, f"{where}: utterance {uid}: cannot read {audio_path}: {err}")
            continue
        speaker = utt2spk[uid].value if uid in utt2spk else ""
        meta = {"speaker": speaker}
        if speaker in spk2gender:
            meta["gender"] = spk2gender[speaker].value
        if speaker in spk2age:
            meta["age"] = spk2age[speaker].value
            meta["age_group"] = age_group(meta["age"], options.age_group_edges, options.age_group_names)
        rows.append(Row(uid, audio, transcript.value, duration, meta))
    return rows


def _data_dir_path(root: Path, name: str) -> Path:
    named = Path(name).expanduser()
    return named if named.is_absolute() else root / named


def _is_data_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in REQUIRED)


def _load(source: str, root: Path, name: str, options: KaldiConfig, on_error: str, drops: DropCounter,
          encoding: str | None, memo: dict[Any, Any]) -> list[Row]:
    """Utterances of data dir `name` under `root`, parsed once per data module (drops counted once)."""
    path = _data_dir_path(root, name)
    key = ("kaldi", source, str(path.resolve()), repr(options))
    if key not in memo:
        if not path.is_dir():
            present = sorted(p.name for p in root.iterdir() if _is_data_dir(p)) if root.is_dir() else []
            raise MissingSplitError(f"[{source}] Kaldi data dir {path} not found; data dirs in {root}: {present}. "
                                    f"Fix data.sources.{source}.splits (or data.path / data.root)")
        audio_root = Path(options.audio_root).expanduser() if options.audio_root else path.resolve().parent
        parsed = read_data_dir(path, source, on_error, drops, encoding)
        memo[key] = utterances(parsed, source, options, on_error, drops, audio_root)
    return memo[key]


def _carved(source: str, rows: list[Row], split: str, options: KaldiConfig, has_test: bool) -> list[Row]:
    """The rows of carved split `split`: speaker-disjoint parts of the carve_from data dir."""
    speakers = {row.meta["speaker"] or row.uid: row.meta.get(options.stratify_by or "", "") for row in rows}
    parts = speaker_splits(list(speakers), test=0.0 if has_test else options.test_speakers,
                           validation=options.validation_speakers, seed=options.split_seed, source=source,
                           strata=speakers if options.stratify_by else None,
                           keys=("kaldi.test_speakers", "kaldi.validation_speakers"))
    return [row for row in rows if (row.meta["speaker"] or row.uid) in parts[split]]


def read_kaldi(source: str, cfg: SourceConfig, split: str, *, on_error: str = "raise",
               drops: DropCounter | None = None, memo: dict[Any, Any] | None = None,
               encoding: str | None = None, metadata: dict[str, dict[str, str]] | None = None) -> Dataset:
    """One split of a Kaldi corpus (see module doc) as a schema Dataset; metadata recorded in `metadata`."""
    drops = drops if drops is not None else DropCounter()
    memo = memo if memo is not None else {}
    if not cfg.path:
        raise DataError(f"[{source}] no path: set data.sources.{source}.path (the folder holding the data dirs)")
    root = Path(cfg.path).expanduser()
    options = cfg.kaldi
    if options.carve_from and split in CARVED:
        official = _data_dir_path(root, options.official_test) if options.official_test else None
        has_test = official is not None and _is_data_dir(official)
        if split == "test" and has_test:
            assert options.official_test is not None
            rows = _load(source, root, options.official_test, options, on_error, drops, encoding, memo)
        else:
            rows = _carved(source, _load(source, root, options.carve_from, options, on_error, drops, encoding, memo),
                           split, options, has_test)
    else:
        rows = _load(source, root, split, options, on_error, drops, encoding, memo)
    records = empty_records()
    for row in rows:
        sample_id = f"{source}/{row.uid}"
        records["id"].append(sample_id)
        records["audio"].append(row.audio)
        records["text"].append(row.text)
        records["source"].append(source)
        records["duration"].append(row.duration)
        records["speaker"].append(row.meta["speaker"])
        if metadata is not None:
            metadata[sample_id] = dict(row.meta)
    return dataset_from_records(records)

