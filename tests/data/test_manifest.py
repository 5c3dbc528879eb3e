"""Manifest corpora: NeMo JSONL, CSV with a split column, a Common Voice release (TSV + clips/)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import write_tone

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import DataConfig, SourceConfig
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.sources.manifest import read_manifest


def _jsonl(path: Path, rows: list[dict | str]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def nemo(root: Path) -> SourceConfig:
    return typed_defaults(SourceConfig, kind="manifest", path=str(root), audio_column="audio_filepath",
                          text_column="text", duration_column="duration",
                          splits={"train": "train.jsonl", "test": "test.jsonl"})


@pytest.fixture
def nemo_corpus(tmp_path: Path) -> Path:
    for name, seconds in (("a.wav", 1.0), ("b.flac", 1.5), ("c.wav", 0.8)):
        write_tone(tmp_path / "audio" / name, seconds)
    _jsonl(tmp_path / "train.jsonl", [{"audio_filepath": "audio/a.wav", "text": "first clip", "duration": 1.0},
                                      {"audio_filepath": str(tmp_path / "audio/b.flac"), "text": "second"}])
    _jsonl(tmp_path / "test.jsonl", [{"audio_filepath": "audio/c.wav", "text": "held out", "duration": 0.8}])
    return tmp_path


def test_nemo_jsonl_relative_and_absolute_paths(nemo_corpus: Path) -> None:
    train = read_manifest("m", nemo(nemo_corpus), "train.jsonl")
    assert train["text"] == ["first clip", "second"]
    assert train["id"] == ["m/audio/a.wav", f"m/{nemo_corpus / 'audio/b.flac'}"]
    assert train["duration"][0] == 1.0 and train["duration"][1] == pytest.approx(1.5)  # column, else header
    assert all(Path(a["path"]).is_file() for a in train["audio"])


def test_bad_rows_raise_with_file_and_line_or_are_skipped(nemo_corpus: Path) -> None:
    (nemo_corpus / "audio" / "empty.wav").write_bytes(b"")
    _jsonl(nemo_corpus / "train.jsonl", [
        {"audio_filepath": "audio/a.wav", "text": "fine"},
        "{not json",
        {"audio_filepath": "audio/missing.wav", "text": "gone"},
        {"audio_filepath": "audio/empty.wav", "text": "corrupt"},
        {"text": "no audio column"},
        {"audio_filepath": "audio/a.wav", "text": "bad duration", "duration": "long"},
    ])
    with pytest.raises(DataError, match=r"train.jsonl:2: not valid JSON.*data.on_error=skip"):
        read_manifest("m", nemo(nemo_corpus), "train.jsonl")
    drops = DropCounter()
    train = read_manifest("m", nemo(nemo_corpus), "train.jsonl", on_error="skip", drops=drops)
    assert train["text"] == ["fine"]
    assert drops.as_dict() == {"m": {"unreadable audio": 2, "unreadable manifest row": 3}}
    assert any("missing.wav" in e for e in drops.examples[("m", "unreadable audio")])


def test_csv_with_a_split_column_and_bad_fields(tmp_path: Path) -> None:
    write_tone(tmp_path / "x.wav", 1.0)
    (tmp_path / "all.csv").write_text('path,text,split\nx.wav,"hello, world",train\nx.wav,again,test\n'
                                      "x.wav,too,many,fields\n")
    config = typed_defaults(SourceConfig, kind="manifest", path=str(tmp_path / "all.csv"), audio_column="path",
                            text_column="text")
    drops = DropCounter()
    assert read_manifest("c", config, "train", on_error="skip", drops=drops)["text"] == ["hello, world"]
    assert drops.as_dict() == {"c": {"unreadable manifest row": 1}}
    with pytest.raises(DataError, match=r"split 'dev' not found in the 'split' column.*\['test', 'train'\]"):
        read_manifest("c", config, "dev", on_error="skip")


def test_common_voice_release_layout(tmp_path: Path) -> None:
    root = tmp_path / "cv-corpus-11.0-2022-09-21" / "el"
    write_tone(root / "clips" / "common_voice_el_1.mp3", 1.0, sample_rate=48_000, subtype="MPEG_LAYER_III")
    header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\tlocale\tsegment\n"
    (root / "train.tsv").write_text(header + 'abc\tcommon_voice_el_1.mp3\tΛέει "γεια".\t2\t0\t\t\t\tel\t\n')
    config = typed_defaults(SourceConfig, kind="manifest", path=str(root), audio_column="path", text_column="sentence",
                            speaker_column="client_id", audio_dir="clips", splits={"train": "train.tsv"})
    table = read_manifest("cv", config, "train.tsv")
    assert table["text"] == ['Λέει "γεια".'] and table["speaker"] == ["abc"]  # TSV: quotes are text
    assert not math.isnan(table["duration"][0])


def test_missing_things_are_named(nemo_corpus: Path) -> None:
    with pytest.raises(DataError, match=r"manifest .*dev.jsonl not found.*\['test.jsonl', 'train.jsonl'\]"):
        read_manifest("m", nemo(nemo_corpus), "dev.jsonl")
    (nemo_corpus / "t.tsv").write_text("file\tsentence\n")
    config = typed_defaults(SourceConfig, kind="manifest", path=str(nemo_corpus), audio_column="path",
                            text_column="sentence")
    with pytest.raises(DataError, match=r"no column 'path'.*audio_column.*\['file', 'sentence'\]"):
        read_manifest("m", config, "t.tsv")
    with pytest.raises(DataError, match="manifest not found"):
        read_manifest("m", typed_defaults(SourceConfig, kind="manifest", path=str(nemo_corpus / "none.csv")), "train")


def test_manifest_config_composes_and_validates(compose_config, nemo_corpus: Path) -> None:
    from whisper_exp.config.schema import validate_config

    run = validate_config(compose_config("data=manifest", f"data.path={nemo_corpus}"))
    assert isinstance(run.data, DataConfig)
    source = run.data.sources["manifest"]
    assert (source.kind, source.path, source.audio_column) == ("manifest", str(nemo_corpus), "audio_filepath")
