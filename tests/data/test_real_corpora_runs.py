"""The real data configs on hub-shaped local copies: 2 training steps each.

cv11_fleurs_el (Greek, interleaved, per-source WER) through the CLI; the same streaming, and the
design card's imda_2500 on an IMDA-layout folder, through `run_training` in-process with the
real composed config (a CLI run adds nothing but ~7 s of imports). A tiny random multilingual
Whisper (the bundled base's tokenizer) keeps them fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from corpus_fixtures import write_cv11_like, write_fleurs_like, write_imda_like
from omegaconf import OmegaConf
from transformers import WhisperConfig, WhisperForConditionalGeneration, WhisperProcessor

from whisper_exp.config.schema import ConfigError, validate_config
from whisper_exp.models.bundled import convert_bundled
from whisper_exp.run import run_training

FAST = ["logger=csv", "trainer.max_steps=2", "trainer.max_epochs=null", "trainer.val_check_interval=2",
        "trainer.check_val_every_n_epoch=null", "trainer.enable_progress_bar=false", "trainer.baseline_eval=false",
        "export.enabled=false", "data.batch_size=2", "data.eval_batch_size=4", "generation.max_new_tokens=4"]


@pytest.fixture(scope="module")
def multilingual_whisper(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """A tiny randomly initialised multilingual Whisper with the bundled base's processor."""
    base = convert_bundled("base", cache_dir)
    processor = WhisperProcessor.from_pretrained(base)
    eot, sot = processor.tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    config = WhisperConfig(
        vocab_size=len(processor.tokenizer), d_model=64, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128,
        num_mel_bins=80, max_source_positions=1500, max_target_positions=448,
        decoder_start_token_id=sot, pad_token_id=eot, bos_token_id=eot, eos_token_id=eot)
    path = tmp_path_factory.mktemp("random_multilingual_whisper")
    WhisperForConditionalGeneration(config).save_pretrained(path)
    shutil.copy(base / "generation_config.json", path / "generation_config.json")
    processor.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def greek(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("greek")
    write_cv11_like(root / "cv11")
    write_fleurs_like(root / "fleurs")
    return root


def _greek_overrides(model: Path, greek: Path) -> list[str]:
    return ["model=small", f"model.checkpoint={model}", "model.language=greek", "data=cv11_fleurs_el",
            f"data.sources.cv11.path={greek / 'cv11'}", f"data.sources.fleurs.path={greek / 'fleurs'}"]


def _run(*overrides: str, cwd: Path) -> dict:
    env = {**os.environ, "HF_DATASETS_CACHE": str(cwd / "hf_datasets"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "whisper_exp", *overrides, *FAST], cwd=cwd, capture_output=True,
                          text=True, check=False, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1].removeprefix("run dir: "))
    return json.loads((run_dir / "summary.json").read_text())


@pytest.mark.slow
def test_cv11_fleurs_el_trains_two_steps(tmp_path: Path, cache_dir: Path, multilingual_whisper: Path,
                                         greek: Path) -> None:
    summary = _run(*_greek_overrides(multilingual_whisper, greek), cwd=tmp_path)
    assert summary["global_steps"] == 2 and summary["train_samples_seen"] == 4
    assert set(summary["wer_per_source"]) == {"cv11", "fleurs"} and summary["test_utterances"] == 6
    assert summary["train_samples"] == 15 and summary["streaming"] is False  # 6 CV + 5 FLEURS, oversampled


@pytest.mark.slow
def test_cv11_fleurs_el_streams_two_steps(compose_config, multilingual_whisper: Path, greek: Path,
                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # datasets sleeps 5 s whenever an interleaved parquet stream ends (an Arrow shutdown workaround).
    monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 0)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets")
    cfg = compose_config(*_greek_overrides(multilingual_whisper, greek), "data.streaming=true", *FAST)
    run_training(cfg)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["global_steps"] == 2 and summary["train_samples_seen"] == 4
    assert set(summary["wer_per_source"]) == {"cv11", "fleurs"} and summary["test_utterances"] == 6
    assert summary["train_samples"] is None and summary["streaming"] is True


@pytest.mark.slow
def test_imda_2500_trains_two_steps_on_an_imda_layout(compose_config, multilingual_whisper: Path,
                                                      tmp_path: Path) -> None:
    root = write_imda_like(tmp_path / "NSC")
    cfg = compose_config("model=small", f"model.checkpoint={multilingual_whisper}", "model.language=english",
                         "data=imda_2500", f"data.root={root}", *FAST)
    run_training(cfg)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["global_steps"] == 2
    assert summary["train_samples"] == 20 and summary["test_utterances"] == 5  # 4 / 1 / 1 speakers, 5 lines each
    assert summary["dropped_samples"] == {"imda": {"unclear word (<UNK>)": 6}}


def test_design_card_command_composes_and_asks_for_the_corpus(compose_config) -> None:
    cfg = compose_config("model=small", "data=imda_2500")
    assert OmegaConf.is_missing(cfg.data, "root")
    assert cfg.model.hub_id == "openai/whisper-small" and cfg.data.train_samples == 2500
    with pytest.raises(ConfigError, match=r"missing required config value 'data.root'.*data.root=/path/to/NSC"):
        validate_config(cfg)
    run = validate_config(compose_config("model=small", "data=imda_2500", "data.root=/data/NSC"))
    assert run.data.sources["imda"].path == "/data/NSC" and run.data.sources["imda"].imda.parts == [1]


@pytest.mark.parametrize("name", ["cv11_el", "fleurs_el", "cv11_fleurs_el", "librispeech_clean100", "imda",
                                  "imda_2500", "manifest", "local", "demo_sg"])
def test_every_data_config_validates(compose_config, name: str) -> None:
    run = validate_config(compose_config("model=small", f"data={name}", "++data.root=/r", "++data.path=/p"))
    assert run.data.name == name and run.data.sources
    sets = {"train", *(run.data.validation_sets or ["validation"]), *(run.data.test_sets or ["test"])}
    for source in run.data.sources.values():
        assert set(source.splits) <= sets
