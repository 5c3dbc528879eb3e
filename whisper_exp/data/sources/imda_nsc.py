"""IMDA National Speech Corpus (Singapore English), read from the folders IMDA distributes.

Layout assumed (IMDA's README/ABOUT for the NSC release; the same structure is read by public
recipes such as Kaldi's egs/nsc and SEACrowd's NSC loader):

    <root>/PART1/DATA/CHANNEL0/SCRIPT/000010.TXT      transcripts of speaker 0001, session 0
    <root>/PART1/DATA/CHANNEL0/WAVE/SPEAKER0001.zip   audio, one zip per speaker, holding
                                    SPEAKER0001/SESSION0/000010001.WAV   (16 kHz WAV)
    <root>/PART1/DATA/CHANNEL0/WAVE/SPEAKER0001/SESSION0/000010001.WAV   (the same, unzipped)
    <root>/PART2/…                                    the same layout for Part 2

Assumptions, each checked with a clear error where it can fail:

* Parts 1 and 2 (prompted read speech, ~1000 speakers each) are supported: ``imda.parts``.
  Part 3+ (conversations, TextGrid transcripts) are not read by this reader.
* Channels: 0 = headset/standing mic, 1 = boundary mic, 2 = mobile phone (``imda.channels``;
  the same utterance recorded on several channels stays in the same split).
* A SCRIPT file is named ``<channel><speaker: 4 digits><session: 1 digit>.TXT``. It holds, per
  utterance, a line ``<utterance id>\\t<prompt as shown to the speaker>`` followed by a line
  ``\\t<orthographic transcription of what was said>`` (lower case, with NSC annotation marks).
  Encoding: a byte-order mark (UTF-8/16/32), else UTF-8, else ``data.encoding`` (data.text_encoding).
* The audio of utterance ``U`` of speaker ``S``, session ``N`` is ``SESSION<N>/<U>.WAV`` under
  ``SPEAKER<S>`` (folder, or member of ``SPEAKER<S>.zip``); extension case is ignored.
* The text is the transcription cleaned by `imda_text.clean_transcript` (documented there);
  with ``imda.prefer_prompt`` (default) the cased, punctuated prompt is used instead whenever
  the speaker read it exactly (same words after lower-casing and removing punctuation).

Splits: IMDA publishes no train/test split. Speakers are shuffled with ``imda.split_seed``
(fixed, independent of the run seed, so the test set does not move between runs) and
``imda.test_speakers`` / ``imda.validation_speakers`` (fractions, at least one speaker each)
go to test / validation; the rest train. No speaker is in two splits.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset

from whisper_exp.config.schema import ImdaConfig, SourceConfig
from whisper_exp.data.audio import zip_member_path
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.schema import dataset_from_records, empty_records
from whisper_exp.data.sources.imda_text import choose_text, clean_transcript
from whisper_exp.data.speakers import speaker_splits as shared_speaker_splits
from whisper_exp.data.text_encoding import read_text

SPLITS = ("train", "validation", "test")
SCRIPT_NAME = re.compile(r"^(?P<channel>\d)(?P<speaker>\d{4})(?P<session>\d)$")


@dataclass(frozen=True)
class Utterance:
    """One indexed utterance (audio found, transcript cleaned)."""

    uid: str
    speaker: str
    audio_path: str
    text: str


def _find_dir(parent: Path, name: str) -> Path | None:
    """`parent/name`, matching the name case-insensitively (releases differ in case)."""
    if (parent / name).is_dir():
        return parent / name
    if not parent.is_dir():
        return None
    for child in parent.iterdir():
        if child.is_dir() and child.name.lower() == name.lower():
            return child
    return None


def _script_entries(path: Path, encoding: str | None = None) -> Iterator[tuple[int, str, str | None, str | None]]:
    """(line number, utterance id, prompt, transcription) per utterance of a SCRIPT file.

    An id line without a following transcription line yields transcription None; a line that
    is neither yields id "" (unreadable).
    """
    lines = read_text(path, encoding).splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        number = index + 1
        index += 1
        if not line.strip():
            continue
        if line[:1].isspace() or "\t" not in line:
            yield number, "", None, line
            continue
        uid, prompt = line.split("\t", 1)
        transcription = None
        if index < len(lines) and lines[index][:1] == "\t":
            transcription = lines[index].strip()
            index += 1
        yield number, uid.strip(), prompt.strip(), transcription


class _AudioLocator:
    """Finds an utterance's WAV in a speaker folder or zip (membership read once per zip)."""

    def __init__(self, wave_dir: Path) -> None:
        self.wave_dir = wave_dir
        self._zip_members: dict[str, dict[str, str]] = {}

    def _zip_index(self, speaker: str) -> tuple[Path, dict[str, str]] | None:
        archive = next((p for p in (self.wave_dir / f"SPEAKER{speaker}.zip", self.wave_dir / f"SPEAKER{speaker}.ZIP")
                        if p.is_file()), None)
        if archive is None:
            return None
        if speaker not in self._zip_members:
            try:
                with zipfile.ZipFile(archive) as handle:
                    self._zip_members[speaker] = {name.lower(): name for name in handle.namelist()}
            except zipfile.BadZipFile as err:
                raise DataError(f"cannot read zip archive {archive}: {err}") from err
        return archive, self._zip_members[speaker]

    def find(self, speaker: str, session: str, uid: str) -> str | None:
        folder = _find_dir(self.wave_dir, f"SPEAKER{speaker}")
        if folder is not None:
            session_dir = _find_dir(folder, f"SESSION{session}")
            for extension in (".WAV", ".wav"):
                candidate = (session_dir or folder / f"SESSION{session}") / f"{uid}{extension}"
                if candidate.is_file():
                    return str(candidate)
        in_zip = self._zip_index(speaker)
        if in_zip is not None:
            archive, members = in_zip
            member = members.get(f"speaker{speaker}/session{session}/{uid}.wav".lower())
            if member is not None:
                return zip_member_path(archive, member)
        return None


def _channel_dirs(root: Path, options: ImdaConfig, source: str) -> list[tuple[int, int, Path]]:
    found = []
    for part in options.parts:
        part_dir = _find_dir(root, f"PART{part}")
        if part_dir is None:
            present = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise DataError(f"[{source}] PART{part} not found in {root} (folders: {present}); set data.root to the "
                            f"NSC folder that holds PART1/, PART2/ … or change data.sources.{source}.imda.parts")
        for channel in options.channels:
            channel_dir = _find_dir(_find_dir(part_dir, "DATA") or part_dir / "DATA", f"CHANNEL{channel}")
            if channel_dir is None:
                raise DataError(f"[{source}] {part_dir}/DATA/CHANNEL{channel} not found; "
                                f"check data.sources.{source}.imda.channels")
            found.append((part, channel, channel_dir))
    return found


def _index(source: str, root: Path, options: ImdaConfig, on_error: str, drops: DropCounter,
           encoding: str | None = None) -> list[Utterance]:
    """Every usable utterance of the configured parts and channels (drops counted once)."""
    utterances: list[Utterance] = []
    for _part, channel, channel_dir in _channel_dirs(root, options, source):
        script_dir = _find_dir(channel_dir, "SCRIPT")
        wave_dir = _find_dir(channel_dir, "WAVE")
        if script_dir is None or wave_dir is None:
            raise DataError(f"[{source}] {channel_dir} must hold SCRIPT/ and WAVE/ folders (IMDA NSC layout)")
        locator = _AudioLocator(wave_dir)
        scripts = sorted(p for p in script_dir.iterdir() if p.suffix.lower() == ".txt")
        if not scripts:
            raise DataError(f"[{source}] no transcript .TXT files in {script_dir}")
        for script in scripts:
            name = SCRIPT_NAME.match(script.stem)
            if name is None:
                drops.fault(on_error, source, "unexpected SCRIPT file name",
                            f"{script}: unexpected SCRIPT file name, expected <channel><speaker:4 digits><session>.TXT")
                continue
            speaker, session = name["speaker"], name["session"]
            for number, uid, prompt, transcription in _script_entries(script, encoding):
                where = f"{script.name}:{number}"
                if not uid:
                    drops.fault(on_error, source, "unreadable transcript line", f"{where}: {transcription!r}")
                    continue
                if transcription is None:
                    drops.fault(on_error, source, "no transcription line", f"{where}: utterance {uid}")
                    continue
                cleaned = clean_transcript(transcription, keep_fillers=options.keep_fillers,
                                           drop_unclear=options.drop_unclear)
                if cleaned.text is None:
                    drops.drop(source, cleaned.reason or "unusable transcript", f"{where} ({uid})")
                    continue
                audio = locator.find(speaker, session, uid)
                if audio is None:
                    drops.fault(on_error, source, "unreadable audio",
                                f"{where}: audio file not found for {uid}: {wave_dir}/SPEAKER{speaker}"
                                f"[.zip]/SESSION{session}/{uid}.WAV")
                    continue
                text = choose_text(prompt, cleaned.text, prefer_prompt=options.prefer_prompt)
                utterances.append(Utterance(f"{uid}-ch{channel}", speaker, audio, text))
    return utterances


def speaker_splits(speakers: list[str], options: ImdaConfig, source: str) -> dict[str, set[str]]:
    """Speaker-disjoint train/validation/test sets, deterministic from imda.split_seed (data.speakers)."""
    return shared_speaker_splits(speakers, test=options.test_speakers, validation=options.validation_speakers,
                                 seed=options.split_seed, source=source,
                                 keys=("imda.test_speakers", "imda.validation_speakers"))


def read_imda_nsc(source: str, cfg: SourceConfig, split: str, *, on_error: str = "raise",
                  drops: DropCounter | None = None, memo: dict[Any, Any] | None = None,
                  encoding: str | None = None) -> Dataset:
    """One speaker-disjoint split ("train", "validation" or "test") of the configured NSC parts."""
    drops = drops if drops is not None else DropCounter()
    if split not in SPLITS:
        raise DataError(f"[{source}] split {split!r} does not exist: the IMDA reader makes {SPLITS} by speaker; "
                        f"fix data.sources.{source}.splits")
    if not cfg.path:
        raise DataError(f"[{source}] no corpus folder: set data.root=/path/to/NSC (the folder holding PART1/)")
    root = Path(cfg.path).expanduser()
    if not root.is_dir():
        raise DataError(f"[{source}] IMDA NSC folder not found: {root} (set data.root)")
    options = cfg.imda
    key = ("imda_nsc", source, str(root.resolve()), repr(options))
    memo = memo if memo is not None else {}
    if key not in memo:
        utterances = _index(source, root, options, on_error, drops, encoding)
        memo[key] = (utterances, speaker_splits([u.speaker for u in utterances], options, source))
    utterances, splits = memo[key]
    wanted = splits[split]
    records = empty_records()
    for utterance in utterances:
        if utterance.speaker not in wanted:
            continue
        records["id"].append(f"{source}/{utterance.uid}")
        records["audio"].append({"path": utterance.audio_path, "bytes": None})
        records["text"].append(utterance.text)
        records["source"].append(source)
        records["duration"].append(float("nan"))
        records["speaker"].append(utterance.speaker)
    if not records["id"]:
        raise DataError(f"[{source}] split {split!r} is empty (speakers: {len(wanted)}); check imda.*_speakers")
    return dataset_from_records(records)
