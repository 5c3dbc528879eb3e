"""Encoder-output cache: exact split of the encoder, stored outputs reused, loss unchanged within fp16."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import WhisperConfig, WhisperForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput

from whisper_exp.models.encoder_cache import EncoderOutputCache, encoder_prefix, encoder_suffix


@pytest.fixture(scope="module")
def model() -> WhisperForConditionalGeneration:
    torch.manual_seed(0)
    config = WhisperConfig(vocab_size=300, d_model=32, encoder_layers=3, decoder_layers=2, encoder_attention_heads=2,
                           decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
                           max_source_positions=1500, max_target_positions=64, decoder_start_token_id=1,
                           pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return WhisperForConditionalGeneration(config).eval()


def _features(seed: int, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 80, 3000, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_prefix_then_suffix_is_the_encoder(model, depth: int) -> None:
    encoder = model.get_encoder()
    x = _features(1)
    with torch.no_grad():
        expected = encoder(x).last_hidden_state
        split = encoder_suffix(encoder, encoder_prefix(encoder, x, depth), depth)
    torch.testing.assert_close(split, expected, rtol=0, atol=0)


def _freeze(model, depth: int) -> None:
    encoder = model.get_encoder()
    for module in [encoder.conv1, encoder.conv2, encoder.embed_positions, *encoder.layers[:depth]]:
        module.requires_grad_(False)
    if depth == len(encoder.layers):
        encoder.layer_norm.requires_grad_(False)


@pytest.mark.parametrize(("depth", "dtype"), [(3, "float16"), (2, "bfloat16")])
def test_cached_outputs_are_reused_and_loss_matches(model, tmp_path: Path, depth: int, dtype: str) -> None:
    _freeze(model, depth)
    encoder = model.get_encoder()
    cache = EncoderOutputCache(tmp_path, encoder, depth, dtype)
    x, labels = _features(2), torch.tensor([[5, 6, 7, 2], [8, 9, 2, -100]])
    first = cache.prefix_outputs(x)
    assert (cache.misses, cache.hits) == (2, 0)
    second = cache.prefix_outputs(x)
    assert (cache.misses, cache.hits) == (2, 2)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert len(list(cache.folder.rglob("*.npy"))) == 2 and not list(cache.folder.rglob("*.tmp"))
    with torch.no_grad():
        plain = model(input_features=x, labels=labels).loss
        hidden = encoder_suffix(encoder, second, depth)
        cached = model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), labels=labels).loss
    tolerance = 2e-3 if dtype == "float16" else 2e-2
    assert abs(float(cached) - float(plain)) < tolerance * max(1.0, abs(float(plain)))
    assert cache.disk_bytes() > 0


def test_other_weights_or_depth_use_another_folder(model, tmp_path: Path) -> None:
    _freeze(model, 3)
    encoder = model.get_encoder()
    a = EncoderOutputCache(tmp_path, encoder, 3)
    b = EncoderOutputCache(tmp_path, encoder, 2)
    assert a.folder != b.folder
    with torch.no_grad():
        encoder.layers[0].fc1.weight.add_(1.0)
    assert EncoderOutputCache(tmp_path, encoder, 3).folder != a.folder


def test_refuses_trainable_prefix_and_bad_settings(tmp_path: Path) -> None:
    config = WhisperConfig(vocab_size=100, d_model=16, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                           decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, pad_token_id=0,
                           bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    encoder = WhisperForConditionalGeneration(config).get_encoder()
    with pytest.raises(ValueError, match="must be frozen"):
        EncoderOutputCache(tmp_path, encoder, 2)
    encoder.requires_grad_(False)
    with pytest.raises(ValueError, match="depth"):
        EncoderOutputCache(tmp_path, encoder, 3)
    with pytest.raises(ValueError, match="dtype"):
        EncoderOutputCache(tmp_path, encoder, 2, dtype="int8")
