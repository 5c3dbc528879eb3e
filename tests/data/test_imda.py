"""IMDA NSC: transcript conventions, the folder layout (zipped and unzipped speakers), speaker splits."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from corpus_fixtures import IMDA_LINES, write_imda_like

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import ImdaConfig, SourceConfig
from whisper_exp.data.audio import AudioRef, load_audio, split_zip_path
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.sources.imda_nsc import read_imda_nsc, speaker_splits
from whisper_exp.data.sources.imda_text import EMPTY_REASON, UNCLEAR_REASON, choose_text, clean_transcript


@pytest.mark.parametrize(("raw", "expected"), [
    ("chinese new year is celebrated for fifteen days", "chinese new year is celebrated for fifteen days"),
    ("the hawker centre (uh) sells (um) chicken rice", "the hawker centre sells chicken rice"),
    ("we took the m_r_t to jurong east [lah]", "we took the mrt to jurong east lah"),
    ("(ppl) let us meet at the void deck <FIL/> (ppb)", "let us meet at the void deck"),
    ("the !wah! kopi here is very go~ good", "the wah kopi here is very good"),
    ("i ate #nasi lemak# <SPK/> <NON/> <STA/> <NPS/> today <S>", "i ate nasi lemak today"),
    ("<s/> so **tiong** bahru (ppc) (ppo) [leh] [ah]", "so tiong bahru leh ah"),
])
def test_annotations_are_cleaned(raw: str, expected: str) -> None:
    assert clean_transcript(raw) == clean_transcript(raw.replace("  ", " "))
    assert clean_transcript(raw).text == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("please bring <UNK> umbrella", UNCLEAR_REASON),
    ("<Z>", "invalid utterance (<Z>)"),
    ("<NEN> wo men qu chi fan", "non-English utterance (<NEN>)"),
    ("(ppl) <FIL/> (uh)", EMPTY_REASON),
])
def test_unusable_utterances_are_dropped_with_a_reason(raw: str, reason: str) -> None:
    cleaned = clean_transcript(raw)
    assert cleaned.text is None and cleaned.reason == reason


def test_options_keep_fillers_and_unclear_words() -> None:
    assert clean_transcript("so (uh) we go", keep_fillers=True).text == "so uh we go"
    assert clean_transcript("please bring <UNK> umbrella", drop_unclear=False).text == "please bring umbrella"


def test_prompt_is_preferred_only_when_read_exactly() -> None:
    prompt = "The hawker centre near my flat sells chicken-rice."
    assert choose_text(prompt, "the hawker centre near my flat sells chicken rice", prefer_prompt=True) == prompt
    assert choose_text(prompt, "the hawker centre near my flat sells chicken rice",
                       prefer_prompt=False) == "the hawker centre near my flat sells chicken rice"
    assert choose_text(prompt, "the hawker near my flat sells chicken rice",
                       prefer_prompt=True) == "the hawker near my flat sells chicken rice"


@pytest.fixture(scope="module")
def imda_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_imda_like(tmp_path_factory.mktemp("imda"))


def _cfg(root: Path, **imda) -> SourceConfig:
    return typed_defaults(SourceConfig, kind="imda_nsc", path=str(root), imda=typed_defaults(ImdaConfig, **imda))


def test_speaker_disjoint_splits_with_clean_text_and_readable_audio(imda_root: Path) -> None:
    drops, memo = DropCounter(), {}
    splits = {name: read_imda_nsc("imda", _cfg(imda_root), name, drops=drops, memo=memo)
              for name in ("train", "validation", "test")}
    speakers = {name: set(table["speaker"]) for name, table in splits.items()}
    assert speakers["train"].isdisjoint(speakers["validation"]) and speakers["train"].isdisjoint(speakers["test"])
    assert speakers["validation"].isdisjoint(speakers["test"])
    assert set().union(*speakers.values()) == {f"{i:04d}" for i in range(1, 7)}
    assert len(speakers["validation"]) == len(speakers["test"]) == 1  # 5 % of 6 speakers, at least one
    # Five of six lines per speaker survive: the one with <UNK> is dropped, once per speaker, counted once.
    assert sum(len(t) for t in splits.values()) == 6 * (len(IMDA_LINES) - 1)
    assert drops.as_dict() == {"imda": {UNCLEAR_REASON: 6}}
    train = splits["train"]
    texts = set(train["text"])
    assert "The hawker centre near my flat sells chicken rice." in texts  # (uh) removed → the prompt was read
    assert "we took the mrt to jurong east lah" in texts  # particle added → the cleaned transcription
    assert "the wah kopi here is very good" in texts
    assert all(i.startswith("imda/0") and i.endswith("-ch0") for i in train["id"])
    paths = [a["path"] for a in train["audio"]]
    zipped = [p for p in paths if split_zip_path(p)]
    assert zipped and len(zipped) < len(paths)  # both layouts of WAVE/ were read
    for path in (zipped[0], next(p for p in paths if not split_zip_path(p))):
        audio = load_audio(AudioRef(path=path), 16_000)
        assert audio.dtype == np.float32 and 0.5 < len(audio) / 16_000 < 1.0


def test_splits_are_deterministic_and_follow_the_split_seed() -> None:
    speakers = [f"{i:04d}" for i in range(40)]
    first = speaker_splits(speakers, typed_defaults(ImdaConfig), "imda")
    assert first == speaker_splits(list(reversed(speakers)), typed_defaults(ImdaConfig), "imda")
    assert first["test"] != speaker_splits(speakers, typed_defaults(ImdaConfig, split_seed=1), "imda")["test"]
    assert len(first["test"]) == 2 and len(first["validation"]) == 2 and len(first["train"]) == 36
    with pytest.raises(DataError, match="at least 3"):
        speaker_splits(["a", "b"], typed_defaults(ImdaConfig), "imda")


def test_missing_audio_raises_naming_the_file_or_is_skipped(tmp_path: Path) -> None:
    root = write_imda_like(tmp_path / "nsc", speakers=4, zipped=(0,))
    (root / "PART1/DATA/CHANNEL0/WAVE/SPEAKER0002/SESSION0/000020002.WAV").unlink()
    with zipfile.ZipFile(root / "PART1/DATA/CHANNEL0/WAVE/SPEAKER0001.zip") as archive:
        assert "SPEAKER0001/SESSION0/000010001.WAV" in archive.namelist()
    with pytest.raises(DataError, match=r"000020.TXT:3.*000020002.*data.on_error=skip"):
        read_imda_nsc("imda", _cfg(root), "train", drops=DropCounter())
    drops, memo = DropCounter(), {}
    sizes = [len(read_imda_nsc("imda", _cfg(root), split, on_error="skip", drops=drops, memo=memo))
             for split in ("train", "validation", "test")]
    assert sum(sizes) == 4 * (len(IMDA_LINES) - 1) - 1
    assert drops.as_dict() == {"imda": {"unreadable audio": 1, UNCLEAR_REASON: 4}}  # the index is read once


def test_layout_errors_say_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="IMDA NSC folder not found.*data.root"):
        read_imda_nsc("imda", _cfg(tmp_path / "nowhere"), "train")
    (tmp_path / "NSC" / "PART2").mkdir(parents=True)
    with pytest.raises(DataError, match=r"PART1 not found .*\['PART2'\].*data.root"):
        read_imda_nsc("imda", _cfg(tmp_path / "NSC"), "train")
    with pytest.raises(DataError, match="split 'dev' does not exist"):
        read_imda_nsc("imda", _cfg(tmp_path / "NSC"), "dev")
    root = write_imda_like(tmp_path / "odd", speakers=3)
    (root / "PART1/DATA/CHANNEL0/SCRIPT/notes.TXT").write_text("hello\n")
    with pytest.raises(DataError, match="unexpected SCRIPT file name"):
        read_imda_nsc("imda", _cfg(root), "train")
