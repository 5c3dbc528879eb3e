"""trainer.compile: every transformer block compiled in place; names and loss unchanged."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import WhisperForConditionalGeneration

from whisper_exp.config.schema import validate_config
from whisper_exp.run import build_components
from whisper_exp.training.compilation import compile_blocks


def test_blocks_compile_in_place_with_the_same_loss(random_whisper_dir: Path) -> None:
    model = WhisperForConditionalGeneration.from_pretrained(random_whisper_dir).eval()
    names = list(model.state_dict())
    features = torch.randn(2, 80, 3000, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([[50362, 400, 50256], [50362, 500, 50256]])
    with torch.no_grad():
        expected = model(input_features=features, labels=labels).loss
    # "eager" runs dynamo's graph capture without a C++ toolchain (inductor is the run-time default).
    assert compile_blocks(model, backend="eager") == 4  # 2 encoder + 2 decoder layers
    assert list(model.state_dict()) == names
    with torch.no_grad():
        torch.testing.assert_close(model(input_features=features, labels=labels).loss, expected)
    assert all(layer._compiled_call_impl is not None for layer in model.model.encoder.layers)


def test_trainer_compile_switch_reaches_the_task_model(compose_config, random_whisper_dir: Path,
                                                       demo_subset: Path) -> None:
    run = validate_config(compose_config(f"model.checkpoint={random_whisper_dir}", "data=local",
                                         f"data.path={demo_subset}", "trainer.compile=true",
                                         "trainer.compile_backend=eager"))
    parts = build_components(run)
    assert all(layer._compiled_call_impl is not None for layer in parts.task.model.model.decoder.layers)
