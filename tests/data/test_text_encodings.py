"""Non-UTF-8 transcripts: a BOM decides, then UTF-8, then data.encoding; else an error naming file, line and
the option (issue 18, item 3) — for audiofolder metadata, manifests and IMDA SCRIPT files alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_tone
from corpus_fixtures import write_imda_like

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import SourceConfig
from whisper_exp.data.errors import DataError
from whisper_exp.data.sources import ReadContext, read_source

TEXTS = ["café au lait", "naïve façade"]


def _local(root: Path, encoding: str, bom: bool = False) -> SourceConfig:
    for name in ("a.wav", "b.wav"):
        write_tone(root / name, 0.5)
    body = "file_name,transcription,split\n" + "".join(f"{n},{t},train\n" for n, t in zip(("a.wav", "b.wav"), TEXTS,
                                                                                           strict=True))
    (root / "metadata.csv").write_bytes(body.encode("utf-16") if bom else body.encode(encoding))
    return typed_defaults(SourceConfig, kind="local", path=str(root))


def _manifest(root: Path, encoding: str, suffix: str) -> SourceConfig:
    for name in ("a.wav", "b.wav"):
        write_tone(root / name, 0.5)
    if suffix == ".jsonl":
        body = "".join(f'{{"audio": "{n}", "text": "{t}"}}\n' for n, t in zip(("a.wav", "b.wav"), TEXTS, strict=True))
    else:
        body = "audio\ttext\n" + "".join(f"{n}\t{t}\n" for n, t in zip(("a.wav", "b.wav"), TEXTS, strict=True))
    (root / f"train{suffix}").write_bytes(body.encode(encoding))
    return typed_defaults(SourceConfig, kind="manifest", path=str(root), text_column="text",
                          splits={"train": f"train{suffix}"})


def _texts(cfg: SourceConfig, encoding: str | None = None) -> list[str]:
    return sorted(read_source("s", cfg, cfg.splits["train"], ReadContext(encoding=encoding))["text"])


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_local_metadata_in_a_legacy_encoding(tmp_path: Path, encoding: str) -> None:
    cfg = _local(tmp_path, encoding)
    with pytest.raises(DataError, match=r"metadata\.csv:2: not UTF-8 .*data\.encoding="):
        _texts(cfg)
    assert _texts(cfg, encoding) == sorted(TEXTS)


def test_utf16_with_bom_needs_no_option(tmp_path: Path) -> None:
    assert _texts(_local(tmp_path / "l", "utf-16", bom=True)) == sorted(TEXTS)
    assert _texts(_manifest(tmp_path / "m", "utf-16", ".tsv")) == sorted(TEXTS)  # Python's utf-16 writes a BOM
    assert _texts(_manifest(tmp_path / "j", "utf-8-sig", ".jsonl")) == sorted(TEXTS)


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl"])
def test_manifest_in_cp1252(tmp_path: Path, suffix: str) -> None:
    cfg = _manifest(tmp_path, "cp1252", suffix)
    line = 2 if suffix == ".tsv" else 1
    with pytest.raises(DataError, match=rf"train{suffix}:{line}: not UTF-8 .*data\.encoding="):
        _texts(cfg)
    assert _texts(cfg, "cp1252") == sorted(TEXTS)


def test_wrong_declared_encoding_names_the_line(tmp_path: Path) -> None:
    cfg = _manifest(tmp_path, "utf-16-le", ".tsv")  # no BOM: not UTF-8, and not ascii either
    with pytest.raises(DataError, match=r"train\.tsv:\d+: not valid ascii \(data\.encoding\)"):
        _texts(cfg, "ascii")


def test_imda_script_in_cp1252(tmp_path: Path) -> None:
    root = write_imda_like(tmp_path / "nsc", speakers=3, zipped=())
    script = sorted((root / "PART1" / "DATA" / "CHANNEL0" / "SCRIPT").glob("*.TXT"))[0]
    text = script.read_bytes().decode("utf-8-sig").replace("Chinese New Year", "Café New Year")
    script.write_bytes(text.encode("cp1252"))
    cfg = typed_defaults(SourceConfig, kind="imda_nsc", path=str(root))
    cfg.imda.test_speakers, cfg.imda.validation_speakers = 0.34, 0.34
    with pytest.raises(DataError, match=rf"{script.name}:1: not UTF-8 .*data\.encoding="):
        read_source("imda", cfg, "train", ReadContext())
    for split in ("train", "validation", "test"):
        read_source("imda", cfg, split, ReadContext(encoding="cp1252"))  # every split reads
