"""audiofolder reading: split column, split folders, bad rows and missing things."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import write_audiofolder, write_tone

from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.sources.local import read_audiofolder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, seconds in (("a.wav", 1.0), ("b.flac", 2.0), ("c.wav", 1.5)):
        write_tone(tmp_path / "clips" / name, seconds)
    return write_audiofolder(tmp_path, [
        {"file_name": "clips/a.wav", "transcription": "hello there", "split": "train", "speaker": "s1", "x": "1"},
        {"file_name": "clips/b.flac", "transcription": "second clip", "split": "train", "speaker": "s2", "x": "2"},
        {"file_name": "clips/c.wav", "transcription": "held out", "split": "test", "speaker": "s1", "x": "3"},
    ])


def test_split_column_selects_rows_and_extra_columns_are_ignored(folder: Path) -> None:
    train = read_audiofolder("corpus", folder, "train")
    assert train["text"] == ["hello there", "second clip"]
    assert train["id"] == ["corpus/clips/a.wav", "corpus/clips/b.flac"]
    assert train["speaker"] == ["s1", "s2"]
    assert train["source"] == ["corpus", "corpus"]
    assert [round(d, 3) for d in train["duration"]] == [1.0, 2.0]
    assert "x" not in train.column_names
    assert train.features["audio"].decode is False
    assert Path(train[0]["audio"]["path"]).is_file()


def test_split_subfolders(tmp_path: Path) -> None:
    for split in ("train", "validation"):
        write_tone(tmp_path / split / "clip.wav", 1.0)
        write_audiofolder(tmp_path / split, [{"file_name": "clip.wav", "transcription": f"{split} text"}])
    assert read_audiofolder("s", tmp_path, "validation")["text"] == ["validation text"]


def test_split_from_file_name_prefix_and_aliases(tmp_path: Path) -> None:
    write_tone(tmp_path / "dev" / "clip.wav", 1.0)
    write_audiofolder(tmp_path, [{"file_name": "dev/clip.wav", "transcription": "dev text"}])
    assert read_audiofolder("s", tmp_path, "validation")["text"] == ["dev text"]


def test_missing_split_lists_present_ones(folder: Path) -> None:
    with pytest.raises(DataError, match=r"split 'validation' not found.*\['test', 'train'\]"):
        read_audiofolder("corpus", folder, "validation")


def test_a_flat_folder_is_one_split_named_train_as_in_datasets(tmp_path: Path) -> None:
    # Like ../shared/data/real_speech: one metadata.csv, no split column, clips beside it.
    write_tone(tmp_path / "jfk.flac", 1.0)
    write_audiofolder(tmp_path, [{"file_name": "jfk.flac", "transcription": "ask not"}])
    assert read_audiofolder("s", tmp_path, "train")["text"] == ["ask not"]
    with pytest.raises(DataError, match=r"split 'test' not found.*\['train'\] \(a flat folder is one split"):
        read_audiofolder("s", tmp_path, "test")


def test_missing_text_column_lists_columns(folder: Path) -> None:
    with pytest.raises(DataError, match=r"no column 'sentence'.*transcription"):
        read_audiofolder("corpus", folder, "train", text_column="sentence")


def test_missing_folder_and_metadata(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dataset folder not found"):
        read_audiofolder("corpus", tmp_path / "nowhere", "train")
    with pytest.raises(DataError, match="no metadata.csv"):
        read_audiofolder("corpus", tmp_path, "train")


def test_missing_audio_raises_with_row_or_is_skipped_and_counted(folder: Path) -> None:
    (folder / "clips" / "b.flac").unlink()
    with pytest.raises(DataError, match=r"metadata.csv:3.*b.flac.*data.on_error=skip"):
        read_audiofolder("corpus", folder, "train")
    drops = DropCounter()
    train = read_audiofolder("corpus", folder, "train", on_error="skip", drops=drops)
    assert train["text"] == ["hello there"]
    assert drops.as_dict() == {"corpus": {"unreadable audio": 1}}


def test_jsonl_metadata(tmp_path: Path) -> None:
    write_tone(tmp_path / "a.wav", 1.0)
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.wav", "transcription": "json row", "split": "test"}\n')
    table = read_audiofolder("j", tmp_path, "test")
    assert table["text"] == ["json row"]
    assert not math.isnan(table["duration"][0])
