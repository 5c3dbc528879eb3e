"""Hub corpora through the real loaders, on local copies shaped exactly like the Hub's (both modes)."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pytest
from corpus_fixtures import write_cv11_like, write_fleurs_like, write_librispeech_like
from datasets import interleave_datasets, load_dataset, load_from_disk

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import DataConfig, MixConfig, SourceConfig
from whisper_exp.data.audio import AudioRef, load_audio
from whisper_exp.data.errors import DataError, DropCounter
from whisper_exp.data.mixing import combine
from whisper_exp.data.schema import FEATURES
from whisper_exp.data.sources import ReadContext, read_source


@pytest.fixture(autouse=True)
def no_shutdown_sleep(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """datasets sleeps 5 s after streaming interleaved parquet (an Arrow shutdown workaround); keep caches in tmp."""
    monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 0)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.getbasetemp() / "hf_datasets")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub_like")
    write_cv11_like(root / "cv11")
    write_fleurs_like(root / "fleurs")
    write_librispeech_like(root / "librispeech")
    return root


def cv11(root: Path) -> SourceConfig:
    return typed_defaults(SourceConfig, kind="hub", path=str(root / "cv11"), data_dir="el",
                          revision="refs/convert/parquet", text_column="sentence", id_column="path",
                          speaker_column="client_id")


def fleurs(root: Path) -> SourceConfig:
    return typed_defaults(SourceConfig, kind="hub", path=str(root / "fleurs"), data_dir="el_gr",
                          revision="refs/convert/parquet", text_column="raw_transcription")


def librispeech(root: Path, name: str = "clean") -> SourceConfig:
    return typed_defaults(SourceConfig, kind="hub", path=str(root / "librispeech"), name=name, text_column="text",
                          id_column="id", speaker_column="speaker_id")


def _rows(table) -> list[dict]:
    return sorted(table, key=lambda r: r["id"])


@pytest.mark.parametrize("streaming", [False, True])
def test_cv11_like_parquet_export(corpora: Path, streaming: bool) -> None:
    table = read_source("cv11", cv11(corpora), "train", ReadContext(streaming=streaming))
    assert isinstance(table, datasets.IterableDataset if streaming else datasets.Dataset)
    assert table.features == FEATURES  # extra columns (votes, age, accent, …) are gone
    rows = _rows(table)
    assert [r["id"] for r in rows] == [f"cv11/common_voice_el_{30000 + i}.mp3" for i in range(6)]
    assert rows[1]["text"] == "Τι κάνεις σήμερα;" and rows[1]["speaker"].startswith("speaker01")
    audio = load_audio(AudioRef.from_datasets(rows[0]["audio"]), 16_000)  # 48 kHz mp3 → 16 kHz float32
    assert audio.dtype == np.float32 and abs(len(audio) / 16_000 - 0.6) < 0.06


def test_streaming_and_eager_read_the_same_samples(corpora: Path) -> None:
    for config in (cv11(corpora), fleurs(corpora)):
        eager = _rows(read_source("s", config, "train+validation", ReadContext()))
        streamed = _rows(read_source("s", config, "train+validation", ReadContext(streaming=True)))
        assert [r["id"] for r in eager] == [r["id"] for r in streamed] and len(eager) in (9, 8)
        assert [r["text"] for r in eager] == [r["text"] for r in streamed]
        # Same audio (decoded; float64 sources are re-encoded as float32 WAV on both paths).
        for one, other in zip(eager, streamed, strict=True):
            np.testing.assert_allclose(load_audio(AudioRef.from_datasets(one["audio"]), 16_000),
                                       load_audio(AudioRef.from_datasets(other["audio"]), 16_000), atol=1e-6)


def test_fleurs_like_float64_arrays_become_float32_audio_with_unique_ids(corpora: Path) -> None:
    raw = load_from_disk(str(corpora / "fleurs" / "el_gr"))["train"]
    assert raw.features["audio"]["array"].feature.dtype == "float64" and len(set(raw["id"])) < len(raw)
    rows = _rows(read_source("fleurs", fleurs(corpora), "train", ReadContext()))
    assert len({r["id"] for r in rows}) == len(rows) == 5
    assert rows[0]["text"] == raw[0]["raw_transcription"] and rows[0]["duration"] == pytest.approx(0.5)
    audio = load_audio(AudioRef.from_datasets(rows[0]["audio"]), 16_000)
    np.testing.assert_allclose(audio, np.asarray(raw[0]["audio"]["array"], dtype=np.float32))


def test_librispeech_like_config_folders_and_dotted_split_names(corpora: Path) -> None:
    for streaming in (False, True):
        rows = _rows(read_source("librispeech_clean", librispeech(corpora), "train.100",
                                 ReadContext(streaming=streaming)))
        assert all(r["text"].isupper() for r in rows) and len(rows) == 4
        assert rows[0]["id"].startswith("librispeech_clean/10") and rows[0]["speaker"] in {"100", "101", "102"}
    other = read_source("librispeech_other", librispeech(corpora, "other"), "test", ReadContext())
    assert len(other) == 2


@pytest.mark.parametrize("streaming", [False, True])
def test_interleaving_cv_and_fleurs_into_one_batch_stream(corpora: Path, streaming: bool) -> None:
    ctx = ReadContext(streaming=streaming)
    tables = {"cv11": read_source("cv11", cv11(corpora), "train", ctx),
              "fleurs": read_source("fleurs", fleurs(corpora), "train", ctx)}
    mixed = list(combine(tables, "train", typed_defaults(MixConfig, probabilities={"cv11": 0.5, "fleurs": 0.5},
                                                         seed=3)))
    sources = [r["source"] for r in mixed]
    assert set(sources) == {"cv11", "fleurs"} and {r["id"] for r in mixed} >= {r["id"] for t in tables.values()
                                                                              for r in t}
    first = [load_audio(AudioRef.from_datasets(r["audio"]), 16_000) for r in mixed[:6]]
    assert {a.dtype for a in first} == {np.dtype(np.float32)}
    first_exhausted = list(combine(tables, "train", typed_defaults(MixConfig, stopping_strategy="first_exhausted")))
    assert len(first_exhausted) < len(mixed)
    concatenated = list(combine(tables, "train", typed_defaults(MixConfig, strategy="concatenate")))
    assert [r["source"] for r in concatenated] == ["cv11"] * 6 + ["fleurs"] * 5
    assert [r["source"] for r in combine(tables, "validation",
                                         typed_defaults(MixConfig))] == ["cv11"] * 6 + ["fleurs"] * 5


def test_raw_hub_tables_do_not_align_but_harmonised_ones_do(corpora: Path) -> None:
    """The failure harmonisation prevents: interleaving the raw CV (Audio) and FLEURS (float64) tables."""
    raw_cv = load_dataset(str(corpora / "cv11" / "el"), split="train").select_columns(["audio", "sentence"])
    raw_fleurs = load_from_disk(str(corpora / "fleurs" / "el_gr"))["train"].select_columns(["audio"])
    raw_fleurs = raw_fleurs.add_column("sentence", ["x"] * len(raw_fleurs))
    with pytest.raises(ValueError, match="aligned"):
        interleave_datasets([raw_cv, raw_fleurs])
    ctx = ReadContext()
    harmonised = [read_source("cv11", cv11(corpora), "train", ctx),
                  read_source("fleurs", fleurs(corpora), "train", ctx)]
    assert len(interleave_datasets(harmonised)) == 10


def test_bad_configs_name_the_source_and_what_to_fix(corpora: Path, tmp_path: Path) -> None:
    config = cv11(corpora)
    config.text_column = "transcript"
    with pytest.raises(DataError, match=r"\[cv11\].*no column 'transcript'.*text_column.*'sentence'"):
        read_source("cv11", config, "train", ReadContext())
    with pytest.raises(DataError, match=r"\[cv11\] split 'dev' does not exist.*splits"):
        read_source("cv11", cv11(corpora), "dev", ReadContext())
    with pytest.raises(DataError, match=r"\[fleurs\] split 'dev' not found.*\['test', 'train', 'validation'\]"):
        read_source("fleurs", fleurs(corpora), "dev", ReadContext())
    with pytest.raises(DataError, match="empty part"):
        read_source("cv11", cv11(corpora), "train+", ReadContext())
    missing = typed_defaults(SourceConfig, kind="hub", path=str(tmp_path), data_dir="el")
    with pytest.raises(DataError, match="folder not found"):
        read_source("cv11", missing, "train", ReadContext())
    with pytest.raises(DataError, match="kind='tsv' is unknown.*'hub'.*'imda_nsc'.*'manifest'"):
        read_source("x", typed_defaults(SourceConfig, kind="tsv"), "train", ReadContext())


def test_probabilities_must_weigh_every_mixed_source(corpora: Path) -> None:
    ctx = ReadContext()
    tables = {"cv11": read_source("cv11", cv11(corpora), "test", ctx),
              "fleurs": read_source("fleurs", fleurs(corpora), "test", ctx)}
    with pytest.raises(DataError, match=r"no weight to source\(s\) \['fleurs'\]"):
        combine(tables, "train", typed_defaults(MixConfig, probabilities={"cv11": 1.0}))


def test_features_of_hub_audio_are_cached_by_content(corpora: Path, tmp_path: Path) -> None:
    from transformers import WhisperFeatureExtractor

    from whisper_exp.data.features import FeatureStore, LogMelSettings
    from whisper_exp.data.pipeline import build_split

    extractor = WhisperFeatureExtractor(feature_size=80)
    store = FeatureStore(tmp_path / "features", LogMelSettings.from_extractor(extractor))
    data = typed_defaults(DataConfig, name="cv", sources={"cv11": cv11(corpora)})
    first = build_split(data, "test", extractor=extractor, labeller=lambda t: [1, 2], max_label_tokens=448,
                        store=store, seed=0, drops=DropCounter())
    stamps = [Path(p).stat().st_mtime_ns for p in first.feature_paths]
    again = build_split(data, "test", extractor=extractor, labeller=lambda t: [1, 2], max_label_tokens=448,
                        store=store, seed=0, drops=DropCounter())
    assert again.feature_paths == first.feature_paths and len(set(first.feature_paths)) == 3
    assert [Path(p).stat().st_mtime_ns for p in again.feature_paths] == stamps
    assert again.durations == pytest.approx(first.durations, abs=0.03)  # re-read from the header on a cache hit
