"""Shared fixtures: a per-session cache, the bundled tiny.en conversion, a tiny random Whisper,
small audiofolder corpora, and Hydra composition of the real config."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig
from transformers import WhisperConfig, WhisperForConditionalGeneration, WhisperProcessor

from whisper_exp.__main__ import CONFIG_DIR
from whisper_exp.models.bundled import convert_bundled

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "whisper_exp" / "data" / "demo_sg"
REAL_SPEECH = REPO.parent / "shared" / "data" / "real_speech"
SAMPLE_RATE = 16_000


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh whisper_exp cache for the session (also exported for subprocesses)."""
    path = tmp_path_factory.mktemp("whisper_exp_cache")
    os.environ["WHISPER_EXP_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_en_dir(cache_dir: Path) -> Path:
    """The bundled tiny.en converted to a Hugging Face folder (once per session)."""
    return convert_bundled("tiny.en", cache_dir)


@pytest.fixture(scope="session")
def tiny_en_processor(tiny_en_dir: Path) -> WhisperProcessor:
    """tiny.en's processor (tokenizer + 80-mel feature extractor)."""
    return WhisperProcessor.from_pretrained(tiny_en_dir)


@pytest.fixture(scope="session")
def random_whisper_dir(tmp_path_factory: pytest.TempPathFactory, tiny_en_dir: Path) -> Path:
    """A tiny randomly initialised English-only Whisper with tiny.en's processor and generation config."""
    processor = WhisperProcessor.from_pretrained(tiny_en_dir)
    config = WhisperConfig(
        vocab_size=len(processor.tokenizer), d_model=64, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128,
        num_mel_bins=80, max_source_positions=1500, max_target_positions=448,
        decoder_start_token_id=50257, pad_token_id=50256, bos_token_id=50257, eos_token_id=50256,
    )
    path = tmp_path_factory.mktemp("random_whisper")
    WhisperForConditionalGeneration(config).save_pretrained(path)
    shutil.copy(tiny_en_dir / "generation_config.json", path / "generation_config.json")
    processor.save_pretrained(path)
    return path


def write_tone(path: Path, seconds: float, sample_rate: int = SAMPLE_RATE, channels: int = 1,
               frequency: float = 440.0, subtype: str | None = None) -> Path:
    """Write a short tone with a little noise (audible, not silent) to `path`."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(int(frequency))
    mono = 0.3 * np.sin(2 * np.pi * frequency * t) + 0.01 * rng.standard_normal(t.shape)
    data = np.stack([mono * (1 - 0.5 * c) for c in range(channels)], axis=1) if channels > 1 else mono
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data.astype(np.float32), sample_rate, subtype=subtype)
    return path


def write_audiofolder(root: Path, rows: Sequence[dict[str, str]], fieldnames: Sequence[str] | None = None) -> Path:
    """Write ROOT/metadata.csv with `rows` (file_name, transcription, split, …)."""
    root.mkdir(parents=True, exist_ok=True)
    fieldnames = list(fieldnames or rows[0].keys())
    with (root / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return root


def demo_rows(split: str, count: int) -> list[dict[str, str]]:
    """The first `count` rows of the embedded demo corpus for `split`."""
    with (DEMO_DIR / "metadata.csv").open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == split]
    return rows[:count]


@pytest.fixture(scope="session")
def demo_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small audiofolder copy of the demo corpus: 8 train, 4 validation, 4 test clips."""
    root = tmp_path_factory.mktemp("demo_subset")
    rows = []
    for split, count in (("train", 8), ("validation", 4), ("test", 4)):
        for row in demo_rows(split, count):
            target = root / row["file_name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(DEMO_DIR / row["file_name"], target)
            rows.append({"file_name": row["file_name"], "transcription": row["transcription"], "split": split})
    return write_audiofolder(root, rows)


@pytest.fixture
def compose_config(tmp_path: Path, cache_dir: Path) -> Iterator[Callable[..., DictConfig]]:
    """compose(*overrides) → the real composed config, with run/cache dirs in tmp."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        def _compose(*overrides: str, config_name: str = "config") -> DictConfig:
            base = [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={cache_dir}"]
            return compose(config_name=config_name, overrides=[*base, *overrides])

        yield _compose
    GlobalHydra.instance().clear()


def assert_checkpoint_and_export_evaluate_alike(summary: dict, compose_config, overrides: list[str],
                                                tmp_path: Path) -> None:
    """The run's best .ckpt and its exported hf_model/, each evaluated alone, score what the run scored."""
    from whisper_exp.run import run_evaluation

    (tmp_path / "run").mkdir()  # compose_config's run dir (Hydra would create it)
    for checkpoint in (summary["best_checkpoint"], summary["export_dir"]):
        cfg = compose_config(*overrides, f"model.checkpoint={checkpoint}", "logger=none", config_name="evaluate")
        again = run_evaluation(cfg)
        assert again["wer"] == pytest.approx(summary["wer"]), checkpoint
        assert [e["prediction"] for e in again["examples"]] == [e["prediction"] for e in summary["examples"]]
