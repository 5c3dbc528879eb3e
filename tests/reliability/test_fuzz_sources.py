"""Property-based fuzz of every source reader through the real eager pipeline (issue 18).

Random mixes of good and broken rows — missing files, garbage bytes, empty/whitespace transcripts,
non-ASCII text, NaN/inf audio, 0 s and 40 s clips, duplicate ids — in random file encodings, read by
the local (audiofolder), manifest, IMDA NSC, Kaldi data-dir and hub-shaped parquet readers with data.on_error=skip.
The invariant: every input row is either in the prepared split or counted under exactly the drop
reason its fault calls for, and the counts add up.

Budget: the `ci` profile (default) runs FUZZ_CI_EXAMPLES examples per reader; the `long` profile
(WHISPER_EXP_FUZZ=long) runs enough for well over 10,000 rows. The number of rows checked is
printed at the end of the session (`-s` shows it).
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import DataConfig, SourceConfig
from whisper_exp.data.errors import DropCounter
from whisper_exp.data.pipeline import build_split
from whisper_exp.families.ctc import WaveformSettings

FUZZ_CI_EXAMPLES = 25
FUZZ_LONG_EXAMPLES = 400
RATE = 16_000
settings.register_profile("ci", max_examples=FUZZ_CI_EXAMPLES, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=FUZZ_LONG_EXAMPLES, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("WHISPER_EXP_FUZZ", "ci"))

# Row kind → the drop reason it must end in (None: kept). IMDA cleans transcripts itself (its own reason).
KINDS = ("good", "missing", "garbage", "empty_text", "space_text", "unicode_text", "nan", "inf", "zero", "long",
         "duplicate")
REASONS = {"good": None, "unicode_text": None, "missing": "unreadable audio", "garbage": "unreadable audio",
           "empty_text": "empty transcript", "space_text": "empty transcript", "nan": "non-finite audio",
           "inf": "non-finite audio", "zero": "zero-length audio", "long": "longer than 30.0 s",
           "duplicate": "duplicate id"}
IMDA_EMPTY = "no words after cleaning annotations"
TEXTS = ["hello there", "Grüße aus Köln", "naïve café", "新加坡 speech", "ok 🙂 fine"]
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252")
ROWS_CHECKED: Counter = Counter()


class FrameFeaturizer:
    """The waveform as one feature per frame: keeps the fuzz about data handling, not log-mel speed."""

    settings = WaveformSettings(sampling_rate=RATE, do_normalize=False)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        return audio[:, None]


def _wav(kind: str, index: int) -> bytes:
    seconds = {"zero": 0.0, "long": 40.0}.get(kind, 0.15 + 0.01 * (index % 5))
    samples = (0.1 * np.sin(np.arange(int(seconds * RATE)) * (0.05 + 0.001 * index))).astype(np.float32)
    if kind in ("nan", "inf") and len(samples):
        samples[len(samples) // 2] = np.nan if kind == "nan" else np.inf
    buffer = io.BytesIO()
    sf.write(buffer, samples, RATE, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def _audio_bytes(kind: str, index: int) -> bytes | None:
    if kind == "missing":
        return None
    if kind == "garbage":
        return b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(index % 7, 40))
    return _wav(kind, index)


def _text(kind: str, index: int, encoding: str) -> str:
    if kind == "empty_text":
        return ""
    if kind == "space_text":
        return "   "
    text = TEXTS[index % len(TEXTS)] if kind == "unicode_text" else f"clip number {index}"
    return text if encoding != "cp1252" else text.encode("cp1252", errors="replace").decode("cp1252")


def plan(kinds: list[str]) -> list[str]:
    """Duplicates need an earlier good row to copy; without one the row is simply good."""
    out = []
    for kind in kinds:
        out.append("duplicate" if kind == "duplicate" and "good" in out else ("good" if kind == "duplicate" else kind))
    return out


def expected(kinds: list[str], empty_reason: str | None = None) -> tuple[int, Counter]:
    drops: Counter = Counter()
    kept = 0
    for kind in kinds:
        reason = REASONS[kind]
        if reason == "empty transcript" and empty_reason:
            reason = empty_reason
        if reason is None:
            kept += 1
        else:
            drops[reason] += 1
    return kept, drops


def _build(data: DataConfig, split: str = "train") -> tuple[int, Counter]:
    drops = DropCounter()
    try:
        prepared = build_split(data, split, extractor=FrameFeaturizer(), labeller=lambda t: [1] * (len(t.split()) + 1),
                               max_label_tokens=448, store=None, seed=0, drops=drops)
        kept = len(prepared)
    except Exception as err:  # a split with nothing usable says so; then every row must be in a drop reason
        if "no usable samples" not in str(err):
            raise
        kept = 0
    counted = Counter()
    for (_, reason), count in drops.counts.items():
        counted[reason] += count
    return kept, counted


def _check(kinds: list[str], got: tuple[int, Counter], reader: str, empty_reason: str | None = None) -> None:
    want_kept, want_drops = expected(kinds, empty_reason)
    kept, drops = got
    assert (kept, dict(drops)) == (want_kept, dict(want_drops)), kinds
    assert kept + sum(drops.values()) == len(kinds)  # the counts add up: nothing lost, nothing twice
    ROWS_CHECKED[reader] += len(kinds)


rows = st.lists(st.sampled_from(KINDS), min_size=1, max_size=12).map(plan)


def _files(root: Path, kinds: list[str]) -> list[str]:
    """Write each row's audio file (none for 'missing'); a duplicate reuses the first good row's file name."""
    names = []
    first_good = None
    for index, kind in enumerate(kinds):
        if kind == "duplicate":
            names.append(first_good)
            continue
        name = f"clip_{index:03d}.wav"
        data = _audio_bytes(kind, index)
        if data is not None:
            (root / name).write_bytes(data)
        if kind == "good" and first_good is None:
            first_good = name
        names.append(name)
    return names


@given(kinds=rows, encoding=st.sampled_from(ENCODINGS))
def test_local_reader(tmp_path_factory: pytest.TempPathFactory, kinds: list[str], encoding: str) -> None:
    root = tmp_path_factory.mktemp("local")
    names = _files(root, kinds)
    lines = ["file_name,transcription,split"] + [f'{n},"{_text(k, i, encoding)}",train'
                                                  for i, (n, k) in enumerate(zip(names, kinds, strict=True))]
    (root / "metadata.csv").write_bytes(("\n".join(lines) + "\n").encode(encoding))
    data = typed_defaults(DataConfig, name="l", sources={"l": typed_defaults(SourceConfig, kind="local",
                                                                             path=str(root))}, on_error="skip",
                          encoding="cp1252" if encoding == "cp1252" else None)
    _check(kinds, _build(data), "local")


@given(kinds=rows, encoding=st.sampled_from(ENCODINGS), suffix=st.sampled_from([".jsonl", ".tsv", ".csv"]))
def test_manifest_reader(tmp_path_factory: pytest.TempPathFactory, kinds: list[str], encoding: str,
                         suffix: str) -> None:
    root = tmp_path_factory.mktemp("manifest")
    names = _files(root, kinds)
    ids = [f"u{i}" if k != "duplicate" else "u" + str(kinds.index("good")) for i, k in enumerate(kinds)]
    records = [{"audio": n, "text": _text(k, i, encoding), "id": u}
               for i, (n, k, u) in enumerate(zip(names, kinds, ids, strict=True))]
    if suffix == ".jsonl":
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        sep = "\t" if suffix == ".tsv" else ","
        body = sep.join(("audio", "text", "id")) + "\n" + "".join(
            sep.join((r["audio"], r["text"] if sep == "\t" else f'"{r["text"]}"', r["id"])) + "\n" for r in records)
    (root / f"train{suffix}").write_bytes(body.encode(encoding))
    source = typed_defaults(SourceConfig, kind="manifest", path=str(root), audio_column="audio", text_column="text",
                            id_column="id", splits={"train": f"train{suffix}"})
    data = typed_defaults(DataConfig, name="m", sources={"m": source}, on_error="skip",
                          encoding="cp1252" if encoding == "cp1252" else None)
    _check(kinds, _build(data), "manifest")


@given(kinds=rows, decoded=st.booleans())
def test_hub_parquet_reader(tmp_path_factory: pytest.TempPathFactory, kinds: list[str], decoded: bool) -> None:
    """A hub-shaped parquet export: audio as {bytes, path} structs, or as decoded float64 arrays."""
    root = tmp_path_factory.mktemp("hub")
    (root / "train").mkdir()
    audio, ids = [], []
    for index, kind in enumerate(kinds):
        ids.append(f"u{kinds.index('good')}" if kind == "duplicate" else f"u{index}")
        source_kind = kinds[kinds.index("good")] if kind == "duplicate" else kind
        data = _audio_bytes(source_kind, kinds.index("good") if kind == "duplicate" else index)
        if decoded and source_kind not in ("missing", "garbage"):
            array, rate = sf.read(io.BytesIO(data), dtype="float64")
            audio.append({"array": array.tolist(), "sampling_rate": rate, "path": None, "bytes": None})
        elif decoded:  # undecodable rows of a decoded table: no array at all
            audio.append({"array": None, "sampling_rate": None, "path": None if kind == "garbage" else
                          f"/nonexistent/{index}.wav", "bytes": data})
        else:
            audio.append({"bytes": data, "path": f"/nonexistent/{index}.wav" if data is None else f"{index}.wav"})
    texts = [_text(k, i, "utf-8") for i, k in enumerate(kinds)]
    pq.write_table(pa.table({"id": ids, "audio": audio, "text": texts}), root / "train" / "0000.parquet")
    source = typed_defaults(SourceConfig, kind="hub", path=str(root), text_column="text", id_column="id",
                            splits={"train": "train"})
    _check(kinds, _build(typed_defaults(DataConfig, name="h", sources={"h": source}, on_error="skip")), "hub")


@given(kinds=rows, encoding=st.sampled_from(ENCODINGS))
def test_imda_reader(tmp_path_factory: pytest.TempPathFactory, kinds: list[str], encoding: str) -> None:
    """Three speakers read the same random rows (plus one good row each: a speaker needs an utterance to be
    split); the reader splits by speaker, one speaker per split. Transcript and missing-audio faults are found
    while indexing (all three speakers); the others when the train split is prepared (its speaker only)."""
    kinds = ["good", *kinds]
    root = tmp_path_factory.mktemp("imda")
    channel = root / "PART1" / "DATA" / "CHANNEL0"
    (channel / "SCRIPT").mkdir(parents=True)
    (channel / "WAVE").mkdir(parents=True)
    for speaker in ("0001", "0002", "0003"):
        lines = []
        for index, kind in enumerate(kinds):
            uid = f"0{speaker}0{index:03d}" if kind != "duplicate" else f"0{speaker}0000"
            data = _audio_bytes(kind, index) if kind != "duplicate" else None
            if data is not None:
                target = channel / "WAVE" / f"SPEAKER{speaker}" / "SESSION0" / f"{uid}.WAV"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            text = _text(kind if kind != "duplicate" else "good", index, encoding)
            lines += [f"{uid}\t{text}", f"\t{text}"]
        (channel / "SCRIPT" / f"0{speaker}0.TXT").write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    source = typed_defaults(SourceConfig, kind="imda_nsc", path=str(root), splits={"train": "train"})
    source.imda.test_speakers, source.imda.validation_speakers = 0.34, 0.34
    data = typed_defaults(DataConfig, name="i", sources={"i": source}, on_error="skip",
                          encoding="cp1252" if encoding == "cp1252" else None)
    kept, drops = _build(data)
    at_index = {"missing": "unreadable audio", "empty_text": IMDA_EMPTY, "space_text": IMDA_EMPTY}
    want = Counter()
    for kind in kinds:
        if kind in at_index:
            want[at_index[kind]] += 3  # every speaker's copy, while indexing
        elif REASONS[kind] is not None:
            want[REASONS[kind]] += 1  # the train speaker's copy, when prepared
    want_kept = sum(REASONS[k] is None for k in kinds)
    assert (kept, dict(drops)) == (want_kept, dict(want)), kinds
    assert kept + sum(drops.values()) == len(kinds) + 2 * sum(k in at_index for k in kinds)
    ROWS_CHECKED["imda"] += kept + sum(drops.values())


KALDI_REASONS = {**REASONS, "no_wav_entry": "no wav.scp entry", "pipe": "unsupported wav.scp entry",
                 "ark": "unsupported wav.scp entry"}
kaldi_rows = st.lists(st.sampled_from(tuple(KALDI_REASONS)), min_size=1, max_size=12).map(plan)


@given(kinds=kaldi_rows, encoding=st.sampled_from(ENCODINGS), relative=st.booleans())
def test_kaldi_reader(tmp_path_factory: pytest.TempPathFactory, kinds: list[str], encoding: str,
                      relative: bool) -> None:
    """A Kaldi data dir: one text row per input row (the transcript file in a random encoding); wav.scp has an
    entry for each row's own id (relative to the recipe folder or absolute), except text rows without one, pipes
    and ark offsets; a duplicate repeats the first good row's id in text."""
    root = tmp_path_factory.mktemp("kaldi")
    (root / "WAVE").mkdir()
    names = _files(root / "WAVE", [k if k in REASONS else "good" for k in kinds])
    first_good = kinds.index("good") if "good" in kinds else None
    text, wav = [], []
    for index, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        uid = f"u{first_good:03d}" if kind == "duplicate" else f"u{index:03d}"
        text.append(f"{uid} {_text(kind, index, encoding)}")
        if kind in ("duplicate", "no_wav_entry"):
            continue
        path = f"WAVE/{name}" if relative else str(root / "WAVE" / name)
        wav.append(f"{uid} " + {"pipe": f"sox {path} -t wav - |", "ark": f"{root}/raw.ark:{index}"}.get(kind, path))
    (root / "train").mkdir()
    (root / "train" / "text").write_bytes(("\n".join(text) + "\n").encode(encoding))
    (root / "train" / "wav.scp").write_text("\n".join(wav) + "\n", encoding="utf-8")
    data = typed_defaults(DataConfig, name="k", sources={"k": typed_defaults(SourceConfig, kind="kaldi",
                                                                             path=str(root))}, on_error="skip",
                          encoding="cp1252" if encoding == "cp1252" else None)
    kept, drops = _build(data)
    want = Counter(KALDI_REASONS[k] for k in kinds if KALDI_REASONS[k] is not None)
    assert (kept, dict(drops)) == (sum(KALDI_REASONS[k] is None for k in kinds), dict(want)), kinds
    assert kept + sum(drops.values()) == len(kinds)
    ROWS_CHECKED["kaldi"] += len(kinds)


@pytest.fixture(scope="module", autouse=True)
def report_rows() -> None:
    yield
    print(f"\nfuzz: {sum(ROWS_CHECKED.values())} rows checked ({dict(ROWS_CHECKED)}), profile "
          f"{os.environ.get('WHISPER_EXP_FUZZ', 'ci')}")
