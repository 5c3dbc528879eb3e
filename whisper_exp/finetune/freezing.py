"""Freezing presets: the encoder's first N layers (with its conv stem and positions), the decoder;
for CTC models the convolutional feature encoder and the first N transformer layers.

Only `requires_grad_(False)` is ever applied. Whisper's encoder positions are fixed sinusoids (a
buffer in OpenAI's model; `requires_grad_(False)` in transformers' WhisperEncoder.__init__, which
transformers 5's from_pretrained does not carry over): they stay frozen in every mode.
"""

from __future__ import annotations

from typing import Any

import torch


class FinetuneError(ValueError):
    """A finetune setting does not fit this model or machine; the message names the key."""


def encoder_layer_count(model: torch.nn.Module) -> int:
    """Number of transformer layers in the model's encoder."""
    return len(model.get_encoder().layers)


def resolve_frozen_layers(value: Any, n_layers: int) -> int:
    """`finetune.frozen_layers` (0..N or "all") as a layer count, checked against the encoder."""
    if value == "all":
        return n_layers
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FinetuneError(f"finetune.frozen_layers={value!r} must be an integer >= 0 or 'all'")
    if value > n_layers:
        raise FinetuneError(f"finetune.frozen_layers={value} but this encoder has {n_layers} layers: "
                            f"use 0..{n_layers} or 'all'")
    return value


def freeze_fixed_positions(model: torch.nn.Module) -> None:
    """Keep the encoder's sinusoidal positional embedding out of training (it was never trained)."""
    positions = getattr(model.get_encoder(), "embed_positions", None)
    if positions is not None:
        positions.requires_grad_(False)


def freeze_encoder_layers(model: torch.nn.Module, n_frozen: int) -> None:
    """Freeze the conv stem, positional embedding and first `n_frozen` encoder layers.

    Freezing every layer freezes the whole encoder (its final LayerNorm too): nothing below a
    frozen stack is worth training on its own.
    """
    if n_frozen == 0:
        return
    encoder = model.get_encoder()
    if n_frozen >= len(encoder.layers):
        encoder.requires_grad_(False)
        return
    for module in (encoder.conv1, encoder.conv2, encoder.embed_positions, *encoder.layers[:n_frozen]):
        module.requires_grad_(False)


def freeze_decoder(model: torch.nn.Module) -> None:
    """Freeze the decoder: token and position embeddings, layers, final LayerNorm, output projection."""
    model.get_decoder().requires_grad_(False)
    output = model.get_output_embeddings()
    if output is not None:  # tied to the token embedding in Whisper; frozen explicitly if a checkpoint unties it
        output.requires_grad_(False)


def freeze_ctc_layers(model: torch.nn.Module, n_frozen: int) -> None:
    """CTC models (wav2vec2 / WavLM / HuBERT): freeze the feature encoder, feature projection, convolutional
    positions and the first `n_frozen` transformer layers; all of them freezes the whole base model, so that
    only the CTC head trains."""
    if n_frozen == 0:
        return
    base = model.base_model
    if n_frozen >= len(base.encoder.layers):
        base.requires_grad_(False)
        return
    for module in (base.feature_extractor, base.feature_projection, base.encoder.pos_conv_embed,
                   *base.encoder.layers[:n_frozen]):
        module.requires_grad_(False)


def freeze_feature_encoder(model: torch.nn.Module) -> None:
    """Freeze a CTC model's convolutional feature encoder (waveform → frames), the usual fine-tuning recipe."""
    model.freeze_feature_encoder()
