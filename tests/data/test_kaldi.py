"""The kaldi source kind on small data dirs: paths, segments, pipes/ark entries, missing lines, duplicate ids,
speaker metadata, the speaker-disjoint carve (and the official test dir), and the real speechocean762 layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import write_tone

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import KaldiConfig, SourceConfig
from whisper_exp.data.audio import AudioRef, load_audio
from whisper_exp.data.errors import DataError
from whisper_exp.data.sources import ReadContext, read_source
from whisper_exp.data.speakers import age_group, speaker_splits

SPEECHOCEAN = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "speechocean762"


def write_dir(path: Path, **files: list[str]) -> Path:
    """A data dir with the given files (name → lines; `wav_scp` is wav.scp)."""
    path.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (path / name.replace("_scp", ".scp")).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def read(root: Path, split: str, on_error: str = "raise", text_case: str = "keep",
         **kaldi: object) -> tuple[list[dict], ReadContext]:
    ctx = ReadContext(on_error=on_error)
    table = read_source("k", typed_defaults(SourceConfig, kind="kaldi", path=str(root), text_case=text_case,
                                            kaldi=typed_defaults(KaldiConfig, **kaldi)), split, ctx)
    return [table[i] for i in range(len(table))], ctx


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """ROOT/WAVE/*.wav (relative in wav.scp) and one absolute path elsewhere; ROOT/train is the data dir."""
    root = tmp_path / "recipe"
    write_tone(root / "WAVE" / "a1.wav", 0.3)
    write_tone(root / "WAVE" / "a2.wav", 0.4)
    elsewhere = write_tone(tmp_path / "other" / "b1.wav", 0.5)
    write_dir(root / "train", wav_scp=["a1 WAVE/a1.wav", "a2 WAVE/a2.wav", f"b1 {elsewhere}"],
              text=["a1 HELLO THERE", "a2 GOOD MORNING", "b1 ZERO ONE"], utt2spk=["a1 s1", "a2 s1", "b1 s2"],
              spk2age=["s1 8", "s2 35"], spk2gender=["s1 f", "s2 m"], utt2dur=["a1 0.3"])
    return root


def test_relative_paths_resolve_against_the_parent_and_absolute_ones_stay(corpus: Path, tmp_path: Path) -> None:
    rows, ctx = read(corpus, "train")
    paths = {row["id"]: row["audio"]["path"] for row in rows}
    assert paths == {"k/a1": str(corpus / "WAVE/a1.wav"), "k/a2": str(corpus / "WAVE/a2.wav"),
                     "k/b1": str(tmp_path / "other" / "b1.wav")}
    assert [row["text"] for row in rows] == ["HELLO THERE", "GOOD MORNING", "ZERO ONE"]
    assert [row["speaker"] for row in rows] == ["s1", "s1", "s2"]
    assert rows[0]["duration"] == pytest.approx(0.3) and np.isnan(rows[1]["duration"])  # utt2dur where given
    assert ctx.metadata["k/a1"] == {"speaker": "s1", "gender": "f", "age": "8", "age_group": "child"}
    assert ctx.metadata["k/b1"]["age_group"] == "adult"


@pytest.mark.parametrize(("text_case", "expected"), [("sentence", ["Hello there", "Good morning", "Zero one"]),
                                                     ("lower", ["hello there", "good morning", "zero one"])])
def test_all_caps_transcripts_are_recased_as_read(corpus: Path, text_case: str, expected: list[str]) -> None:
    rows, _ = read(corpus, "train", text_case=text_case)
    assert [row["text"] for row in rows] == expected
    assert list(rows[0]) == ["id", "audio", "text", "source", "duration", "speaker"]  # the schema's column order


def test_audio_root_overrides_the_parent(corpus: Path, tmp_path: Path) -> None:
    moved = tmp_path / "audio_elsewhere"
    moved.mkdir()
    (corpus / "WAVE").rename(moved / "WAVE")
    with pytest.raises(DataError, match=r"wav.scp:1: audio file not found"):
        read(corpus, "train")
    rows, _ = read(corpus, "train", audio_root=str(moved))
    assert rows[0]["audio"]["path"] == str(moved / "WAVE/a1.wav")


def test_segments_cut_utterances_from_recordings(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write_tone(root / "long.wav", 2.0)
    write_dir(root / "dev", wav_scp=["rec long.wav"], text=["u1 FIRST", "u2 SECOND"],
              segments=["u1 rec 0.00 0.50", "u2 rec 1.25 2.00"])
    rows, ctx = read(root, "dev")
    assert [row["duration"] for row in rows] == pytest.approx([0.5, 0.75])
    lengths = [len(load_audio(AudioRef.from_datasets(row["audio"]), 16_000)) for row in rows]
    assert lengths == [8000, 12000]
    assert ctx.drops.total() == 0  # a segmented recording needs no text line of its own


@pytest.mark.parametrize("entry", ["sox WAVE/a1.wav -t wav - |", "raw.ark:1234", "ark:/data/raw.ark:99"])
def test_pipes_and_ark_offsets_fail_naming_file_and_line(corpus: Path, entry: str) -> None:
    write_dir(corpus / "train", wav_scp=["a1 WAVE/a1.wav", f"a2 {entry}"], text=["a1 HELLO", "a2 THERE"])
    with pytest.raises(DataError, match=r"train/wav.scp:2: (piped command|archive offset)"):
        read(corpus, "train")
    rows, ctx = read(corpus, "train", on_error="skip")
    assert [row["id"] for row in rows] == ["k/a1"]
    assert ctx.drops.as_dict() == {"k": {"unsupported wav.scp entry": 1}}


def test_missing_lines_and_files_are_faults_or_counted(corpus: Path) -> None:
    write_dir(corpus / "train", wav_scp=["a1 WAVE/a1.wav", "a2 WAVE/missing.wav", "x9 WAVE/a2.wav"],
              text=["a1 HELLO", "a2 THERE", "a3 NO AUDIO LINE"], utt2spk=["a1 s1", "a2 s1", "a3 s2"])
    with pytest.raises(DataError, match=r"audio file not found"):
        read(corpus, "train")
    rows, ctx = read(corpus, "train", on_error="skip")
    assert [row["id"] for row in rows] == ["k/a1"]
    assert ctx.drops.as_dict() == {"k": {"unreadable audio": 1, "no wav.scp entry": 1, "no transcript": 1}}
    write_dir(corpus / "train", wav_scp=["a1 WAVE/a1.wav"], text=["a1 HELLO", "a3 NO AUDIO LINE"])
    with pytest.raises(DataError, match=r"train/text:2: utterance a3: recording a3 has no line in wav.scp"):
        read(corpus, "train")


def test_duplicate_ids_name_the_line_and_keep_the_first(corpus: Path) -> None:
    write_dir(corpus / "train", wav_scp=["a1 WAVE/a1.wav", "a2 WAVE/a2.wav"],
              text=["a1 HELLO", "a2 THERE", "a1 AGAIN"])
    with pytest.raises(DataError, match=r"train/text:3: id 'a1' again \(first at .*text:1\)"):
        read(corpus, "train")
    rows, ctx = read(corpus, "train", on_error="skip")
    assert [(row["id"], row["text"]) for row in rows] == [("k/a1", "HELLO"), ("k/a2", "THERE")]
    assert ctx.drops.as_dict() == {"k": {"duplicate id": 1}}


def test_a_missing_data_dir_names_the_ones_present(corpus: Path) -> None:
    with pytest.raises(DataError, match=r"data dirs in .*\['train'\]"):
        read(corpus, "dev")


def test_age_groups() -> None:
    assert [age_group(a) for a in ("6", 12.9, "13", "19", "20", "70", "", None, "n/a")] == [
        "child", "child", "teen", "teen", "adult", "adult", "", "", ""]


def test_speaker_split_is_disjoint_fixed_and_stratified() -> None:
    speakers = [f"c{i}" for i in range(20)] + [f"a{i}" for i in range(30)]
    strata = {s: s[0] for s in speakers}
    first = speaker_splits(speakers, test=0.1, validation=0.1, seed=0, source="x", strata=strata)
    assert first == speaker_splits(list(reversed(speakers)), test=0.1, validation=0.1, seed=0, source="x",
                                   strata=strata)
    assert set().union(*first.values()) == set(speakers)
    assert not (first["test"] & first["validation"]) and not (first["train"] & (first["test"] | first["validation"]))
    for split, expected in (("test", {"c": 2, "a": 3}), ("validation", {"c": 2, "a": 3})):
        assert {k: sum(s[0] == k for s in first[split]) for k in "ca"} == expected
    other = speaker_splits(speakers, test=0.1, validation=0.1, seed=1, source="x", strata=strata)
    assert other["test"] != first["test"]


def _many_speakers(root: Path, speakers: int = 12) -> None:
    write_tone(root / "WAVE" / "x.wav", 0.2)
    ids = [f"s{s:02d}_{u}" for s in range(speakers) for u in range(2)]
    write_dir(root / "train", wav_scp=[f"{i} WAVE/x.wav" for i in ids], text=[f"{i} WORDS" for i in ids],
              utt2spk=[f"{i} {i[:3]}" for i in ids],
              spk2age=[f"s{s:02d} {8 if s % 2 else 30}" for s in range(speakers)])


def test_carved_splits_are_speaker_disjoint_and_use_the_official_test_when_present(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    _many_speakers(root)
    options = {"carve_from": "train", "validation_speakers": 0.2, "test_speakers": 0.2, "stratify_by": "age_group"}
    parts = {split: read(root, split, **options)[0] for split in ("train", "validation", "test")}
    speakers = {split: {row["speaker"] for row in rows} for split, rows in parts.items()}
    assert sum(len(rows) for rows in parts.values()) == 24
    assert not (speakers["train"] & speakers["validation"]) and not (speakers["train"] & speakers["test"])
    assert not (speakers["validation"] & speakers["test"])
    for split in ("validation", "test"):  # one child and one adult each (20 % of 6)
        ages = {int(s[1:]) % 2 for s in speakers[split]}
        assert ages == {0, 1}, (split, speakers[split])
    write_dir(root / "test", wav_scp=["t1 WAVE/x.wav"], text=["t1 OFFICIAL"], utt2spk=["t1 z1"])
    official = {split: read(root, split, **options)[0] for split in ("train", "validation", "test")}
    assert [row["text"] for row in official["test"]] == ["OFFICIAL"]
    assert len(official["validation"]) == len(parts["validation"])  # validation carve unchanged
    assert len(official["train"]) == 24 - len(parts["validation"])  # the carved test speakers train now


def test_speechocean762_splits(tmp_path: Path) -> None:
    if not (SPEECHOCEAN / "train" / "wav.scp").is_file():
        pytest.skip(f"speechocean762 not found at {SPEECHOCEAN.resolve()} (../shared/data beside the repo)")
    options = {"carve_from": "train", "stratify_by": "age_group"}
    ctx = ReadContext()
    cfg = typed_defaults(SourceConfig, kind="kaldi", path=str(SPEECHOCEAN), kaldi=typed_defaults(KaldiConfig,
                                                                                                 **options))
    tables = {split: read_source("so", cfg, split, ctx) for split in ("train", "validation", "test")}
    speakers = {split: set(table["speaker"]) for split, table in tables.items()}
    assert {split: len(s) for split, s in speakers.items()} == {"train": 101, "validation": 12, "test": 12}
    assert sum(len(t) for t in tables.values()) == 2500 and ctx.drops.total() == 0
    for table in tables.values():
        assert {ctx.metadata[i]["age_group"] for i in table["id"]} == {"child", "teen", "adult"}


def test_bad_and_missing_segments_are_faults(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write_tone(root / "long.wav", 1.0)
    write_dir(root / "dev", wav_scp=["rec long.wav"],
              text=["u1 OK", "u2 BACKWARDS", "u3 NO SEGMENT", "u4 NO RECORDING"],
              segments=["u1 rec 0.0 0.5", "u2 rec 0.6 0.2", "u4 other 0.0 0.5"])
    with pytest.raises(DataError, match=r"dev/segments:2: expected .* got 'rec 0.6 0.2'"):
        read(root, "dev")
    rows, ctx = read(root, "dev", on_error="skip")
    assert [row["id"] for row in rows] == ["k/u1"]
    assert ctx.drops.as_dict() == {"k": {"bad segments line": 1, "no wav.scp entry": 2}}
