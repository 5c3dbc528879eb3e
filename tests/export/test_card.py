"""The model card (hf_model/README.md) and export.push_to_hub's refusal when it cannot publish."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest
from huggingface_hub import ModelCard

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import ExportConfig
from whisper_exp.export import after_training
from whisper_exp.export.card import PushError, card_metadata, check_can_push, write_card

SUMMARY = {
    "run_dir": "/runs/2026-12-06/demo", "model": "tiny.en", "data": "demo_sg", "finetune": "full",
    "finetune_mode": "full", "baseline_wer": 0.41, "best_val_wer": 0.12, "wer": 0.15, "test_utterances": 90,
    "train_samples": 600, "lr": 3.75e-5, "global_steps": 300, "precision": "32-true", "seed": 42,
    "trainable_params": 37_760_640, "total_params": 37_760_640, "train_samples_per_s": 9.5,
    "train_audio_s_per_s": 42.0, "environment": {"cuda": None, "cpu_count": 2, "torch_threads": 2, "torch": "2.13"},
    "config": {"model": {"hub_id": "openai/whisper-tiny.en", "english_only": True, "language": None},
               "data": {"name": "demo_sg", "sources": {"demo_sg": {"kind": "local", "path": "/pkg/demo_sg"}}},
               "optimizer": {"lr_source": "rule"}},
}


def test_card_metadata_fields() -> None:
    meta = card_metadata(SUMMARY)
    assert meta["base_model"] == "openai/whisper-tiny.en"
    assert meta["language"] == ["en"] and meta["datasets"] == ["demo_sg"] and meta["license"] == "apache-2.0"
    assert {"whisper", "automatic-speech-recognition"} <= set(meta["tags"])
    results = {r["dataset"]["split"]: r["metrics"] for r in meta["model-index"][0]["results"]}
    assert [m["value"] for m in results["validation"]] == [41.0, 12.0]  # before / after, in percent
    assert [m["value"] for m in results["test"]] == [15.0]


def test_card_parses_with_huggingface_hub_and_says_synthetic(tmp_path: Path) -> None:
    path = write_card(tmp_path, SUMMARY)
    card = ModelCard.load(path)  # the Hub's own parser: front matter and model-index must be valid
    assert card.data.base_model == "openai/whisper-tiny.en"
    assert {r.metric_value for r in card.data.eval_results} == {41.0, 12.0, 15.0}
    text = path.read_text()
    for section in ("## Data", "## Training recipe", "## Throughput", "## Limitations"):
        assert section in text
    assert "synthetic speech" in text and "precision: 32-true" in text and "9.50 clips/s" in text


def test_push_without_token_or_offline_fails_at_once_and_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PushError, match="HF_HUB_OFFLINE"):
        check_can_push()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no_token"))  # nor a stored one
    hf_dir = tmp_path / "hf_model"
    hf_dir.mkdir()
    export = typed_defaults(ExportConfig, formats=["hf", "ct2"], push_to_hub="someone/model")
    with pytest.raises(PushError, match="no Hugging Face token"):
        after_training(export, tmp_path, hf_dir, SUMMARY)
    assert [p.name for p in tmp_path.iterdir()] == ["hf_model"] and not any(hf_dir.iterdir())
