"""WhisperTask's evaluation pass: one encoder pass and one cross-attention projection serve both the eval
loss and greedy generation, with exactly the loss and transcripts of the separate calls."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from whisper_exp.config.schema import GenerationConfig, OptimizerConfig
from whisper_exp.metrics.wer import build_normaliser
from whisper_exp.tasks.whisper import WhisperTask

# Not used by these tests (no optimiser steps); every field given, as the typed view has no defaults.
OPTIMIZER = OptimizerConfig(name="unused", lr=1e-4, lr_divisor=40.0, warmup_steps=None, warmup_fraction=0.0,
                            no_decay=[])


def _task(model_dir: Path, num_beams: int, max_new_tokens: int = 12,
          tokens_per_second: float | None = None) -> WhisperTask:
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration.from_pretrained(model_dir)
    processor = WhisperProcessor.from_pretrained(model_dir)
    task = WhisperTask(model, processor.tokenizer, optimizer=OPTIMIZER,
                       generation=GenerationConfig(language=None, task=None, num_beams=num_beams,
                                                   max_new_tokens=max_new_tokens, tokens_per_second=tokens_per_second,
                                                   tokens_margin=2, log_examples=20),
                       normaliser=build_normaliser("basic", None))
    return task.eval()


def _batch() -> dict:
    generator = torch.Generator().manual_seed(5)
    return {"input_features": torch.randn(3, 80, 3000, generator=generator),
            "labels": torch.tensor([[50362, 400, 500, 50256], [50362, 600, 50256, -100], [50362, 50256, -100, -100]])}


def _count_cross_projections(model: WhisperForConditionalGeneration) -> list[int]:
    """A counter of calls to the first decoder layer's cross-attention key projection."""
    calls = [0]
    layer = model.get_decoder().layers[0].encoder_attn.k_proj
    layer.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("num_beams", [1, 2])
def test_eval_pass_matches_separate_loss_and_generation(random_whisper_dir: Path, num_beams: int) -> None:
    task = _task(random_whisper_dir, num_beams)
    batch = _batch()
    with torch.no_grad():
        expected_loss = task.compute_loss(batch)
    expected_texts = task.transcribe(batch)
    assert any(text.strip() for text in expected_texts)  # the random model does generate something

    calls = _count_cross_projections(task.model)
    loss, texts = task.loss_and_transcribe(batch)

    assert torch.equal(loss, expected_loss)
    assert texts == expected_texts
    # Greedy: the loss pass projects the encoder outputs once and generation reuses them; beam search
    # (batch expanded per beam) projects its own.
    assert calls[0] == (1 if num_beams == 1 else 2)


def test_generation_limit_scales_with_the_longest_clip(random_whisper_dir: Path) -> None:
    # A random model never emits end-of-text, so every transcript runs to the limit: 2 + ceil(1.5 × 2.0) = 5 tokens
    # for a batch whose longest clip is 2 s; without durations (or with the limit off) max_new_tokens = 40 holds.
    scaled = _task(random_whisper_dir, 1, max_new_tokens=40, tokens_per_second=1.5)
    batch = {**_batch(), "durations": [0.5, 2.0, 1.0]}
    tokens = [len(scaled.tokenizer(text, add_special_tokens=False).input_ids) for text in scaled.transcribe(batch)]
    unscaled = _task(random_whisper_dir, 1, max_new_tokens=40)
    full = [len(unscaled.tokenizer(text, add_special_tokens=False).input_ids) for text in unscaled.transcribe(batch)]
    assert max(tokens) <= 5 < max(full)
    long_clips = {**_batch(), "durations": [60.0, 60.0, 60.0]}  # 2 + 90 > 40: max_new_tokens is the ceiling
    assert scaled.transcribe(long_clips) == unscaled.transcribe(long_clips)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("num_beams", [1, 2])
def test_evaluation_raises_no_generation_deprecation_notices(random_whisper_dir: Path, num_beams: int) -> None:
    """transformers 5 used to warn on every batch (max_new_tokens with max_length, generation_config with generation
    arguments, past_key_values); generation settings now go the way the library expects."""
    task = _task(random_whisper_dir, num_beams)
    records = _Records()
    library = logging.getLogger("transformers")
    library.addHandler(records)
    logging.Logger.warning_once.cache_clear()  # transformers' once-per-process notices: see them again here
    try:
        with warnings.catch_warnings(record=True) as caught, torch.no_grad():
            warnings.simplefilter("always")
            task.loss_and_transcribe(_batch())
            task.transcribe(_batch())
    finally:
        library.removeHandler(records)
    assert records.messages == []
    assert [str(w.message) for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))
            and "transformers" in w.filename] == []
