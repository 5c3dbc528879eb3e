"""The encoder cache inside WhisperTask: same loss (within storage precision) and same transcripts as
the uncached path, reused across passes; and a real run with `finetune.encoder_cache.enabled=true`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from whisper_exp.config.schema import EncoderCacheSettings, GenerationConfig, OptimizerConfig
from whisper_exp.families.whisper import WHISPER_LAYERS
from whisper_exp.finetune.freezing import freeze_encoder_layers
from whisper_exp.metrics.wer import build_normaliser
from whisper_exp.models.encoder_cache import build_encoder_cache
from whisper_exp.run import run_training
from whisper_exp.tasks.whisper import WhisperTask

# fp16 storage of the cached hidden states: relative loss difference seen ≈ 1e-4; bf16 ≈ 1e-3.
LOSS_TOLERANCE = {"float16": 1e-3, "bfloat16": 1e-2}


# Not used by these tests (no optimiser steps); every field given, as the typed view has no defaults.
OPTIMIZER = OptimizerConfig(name="unused", lr=1e-4, lr_divisor=40.0, warmup_steps=None, warmup_fraction=0.0,
                            no_decay=[])


def _task(model_dir: Path, frozen: int | str, cache_root: Path | None, dtype: str = "float16") -> WhisperTask:
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration.from_pretrained(model_dir)
    n_layers = len(model.get_encoder().layers)
    depth = n_layers if frozen == "all" else int(frozen)
    freeze_encoder_layers(model, WHISPER_LAYERS, depth)
    cache = (build_encoder_cache(model, EncoderCacheSettings(enabled=True, dtype=dtype), depth, cache_root)
             if cache_root is not None else None)
    processor = WhisperProcessor.from_pretrained(model_dir)
    task = WhisperTask(model, processor.tokenizer, optimizer=OPTIMIZER,
                       generation=GenerationConfig(language=None, task=None, num_beams=1, max_new_tokens=8,
                                                   tokens_per_second=None, tokens_margin=16,
                                                   log_examples=20),
                       normaliser=build_normaliser("basic", None), encoder_cache=cache)
    return task.eval()


def _batch() -> dict:
    generator = torch.Generator().manual_seed(3)
    return {"input_features": torch.randn(3, 80, 3000, generator=generator),
            "labels": torch.tensor([[50362, 400, 500, 50256], [50362, 600, 50256, -100], [50362, 50256, -100, -100]]),
            "ids": ["a", "b", "c"], "texts": ["x", "y", "z"], "sources": ["s", "s", "s"]}


@pytest.mark.parametrize(("frozen", "dtype"), [("all", "float16"), (1, "float16"), ("all", "bfloat16")])
def test_cached_task_matches_uncached(random_whisper_dir: Path, tmp_path: Path, frozen: int | str,
                                      dtype: str) -> None:
    plain, cached = _task(random_whisper_dir, frozen, None), _task(random_whisper_dir, frozen, tmp_path, dtype)
    batch = _batch()
    with torch.no_grad():
        expected_loss = float(plain.compute_loss(batch))
        first_loss = float(cached.compute_loss(batch))
    assert cached.encoder_cache.misses == 3 and cached.encoder_cache.hits == 0
    assert abs(first_loss - expected_loss) <= LOSS_TOLERANCE[dtype] * abs(expected_loss)
    expected_loss_eval, expected_texts = plain.loss_and_transcribe(batch)
    loss_eval, texts = cached.loss_and_transcribe(batch)  # second pass: read back from disk
    assert cached.encoder_cache.hits == 3
    assert abs(float(loss_eval) - float(expected_loss_eval)) <= LOSS_TOLERANCE[dtype] * abs(float(expected_loss_eval))
    if dtype == "float16":
        assert texts == expected_texts
    stats = cached.speed_stats()["encoder_cache"]
    # 3 clips x 1500 positions x d_model 64 x 2 bytes (+ .npy headers)
    assert 3 * 1500 * 64 * 2 <= stats["disk_bytes"] < 3 * 1500 * 64 * 2 + 3 * 256


def test_cached_gradients_reach_only_the_trainable_rest(random_whisper_dir: Path, tmp_path: Path) -> None:
    task = _task(random_whisper_dir, 1, tmp_path).train()
    task.compute_loss(_batch()).backward()
    encoder = task.model.get_encoder()
    assert encoder.layers[1].fc1.weight.grad is not None  # trainable suffix layer
    assert encoder.layers[0].fc1.weight.grad is None
    assert task.model.model.decoder.layers[0].fc1.weight.grad is not None


# bf16-mixed explicitly: autocast once refused the float16 cache entries (the demo's recipe on a bf16 CPU).
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_run_with_encoder_cache_reuses_it_from_the_second_epoch(compose_config, random_whisper_dir: Path,
                                                                demo_subset: Path, precision: str,
                                                                tmp_path: Path) -> None:
    cfg = compose_config(f"model.checkpoint={random_whisper_dir}", "data=local", f"data.path={demo_subset}",
                         f"trainer.precision={precision}", f"paths.cache_dir={tmp_path / 'cache'}",
                         "finetune=freeze_encoder", "finetune.encoder_cache.enabled=true", "logger=none",
                         "trainer.max_epochs=2", "trainer.max_steps=-1", "trainer.baseline_eval=false",
                         "trainer.enable_progress_bar=false", "export.enabled=false", "data.batch_size=4",
                         "data.eval_batch_size=4", "generation.max_new_tokens=4")
    run_training(cfg)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["precision"] == precision
    stats = summary["encoder_cache"]
    # 8 train clips seen twice, validation (4) after each epoch, test (4) once: only first sightings miss.
    assert stats["misses"] == 8 + 4 + 4
    assert stats["hits"] == 8 + 4 + 0
    assert stats["disk_bytes"] >= 16 * 1500 * 64 * 2
