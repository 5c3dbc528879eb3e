"""Freezing presets over a family's layer map: the encoder's first N layers (with what lies below them),
the decoder, a CTC model's convolutional feature encoder.

A family says where these parts are in its model (`LayerMap`, given by whisper_exp.families); the
presets here are the same for every family. Only `requires_grad_(False)` is ever applied. Modules a
family marks `fixed` never train (Whisper's encoder positions are fixed sinusoids: a buffer in OpenAI's
model; `requires_grad_(False)` in transformers' WhisperEncoder.__init__, which transformers 5's
from_pretrained does not carry over).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Modules = Callable[[torch.nn.Module], Sequence[torch.nn.Module | None]]


class FinetuneError(ValueError):
    """A finetune setting does not fit this model or machine; the message names the key."""


def _nothing(model: torch.nn.Module) -> Sequence[torch.nn.Module | None]:
    return ()


@dataclass(frozen=True)
class LayerMap:
    """Where a family's model keeps what the finetune presets freeze; each entry maps the loaded model to modules."""

    # The part `finetune.frozen_layers` freezes: frozen whole when all its layers are.
    encoder: Callable[[torch.nn.Module], torch.nn.Module]
    # Its stacked layers, input side first (`frozen_layers=N` freezes the first N).
    layers: Modules
    # What lies below the first layer (conv stem, positions): frozen with any frozen layer.
    stem: Modules
    # Never trained (fixed positional tables).
    fixed: Modules = _nothing
    # `finetune.freeze_decoder`; None: the family has no decoder.
    decoder: Modules | None = None
    # `finetune.freeze_feature_encoder` (the model's own freezing call, which also stops its input from asking
    # for gradients); None: the family has no separate feature encoder.
    freeze_feature_encoder: Callable[[torch.nn.Module], None] | None = None
    # Modules LoRA must train in full besides its adapters (a freshly initialised head).
    lora_full_modules: tuple[str, ...] = ()

    def layer_count(self, model: torch.nn.Module) -> int:
        """Number of stacked encoder layers."""
        return len(self.layers(model))


def _freeze(modules: Sequence[torch.nn.Module | None]) -> None:
    for module in modules:
        if module is not None:
            module.requires_grad_(False)


def resolve_frozen_layers(value: int | str, n_layers: int) -> int:
    """`finetune.frozen_layers` (an integer >= 0 or "all", as config.schema checks it) as a layer count of this
    encoder; the one place it is resolved (apply_finetune passes the count on)."""
    if value == "all":
        return n_layers
    assert isinstance(value, int), value
    if value > n_layers:
        raise FinetuneError(f"finetune.frozen_layers={value} but this encoder has {n_layers} layers: "
                            f"use 0..{n_layers} or 'all'")
    return value


def freeze_fixed(model: torch.nn.Module, layer_map: LayerMap) -> None:
    """Keep the family's fixed modules (e.g. sinusoidal positions) out of training."""
    _freeze(layer_map.fixed(model))


def freeze_encoder_layers(model: torch.nn.Module, layer_map: LayerMap, n_frozen: int) -> None:
    """Freeze the stem and the first `n_frozen` encoder layers.

    Freezing every layer freezes the whole encoder (its final norm too): nothing below a frozen stack is
    worth training on its own; for a CTC model only the head then trains.
    """
    if n_frozen == 0:
        return
    layers = layer_map.layers(model)
    if n_frozen >= len(layers):
        layer_map.encoder(model).requires_grad_(False)
        return
    _freeze([*layer_map.stem(model), *layers[:n_frozen]])


def freeze_decoder(model: torch.nn.Module, layer_map: LayerMap) -> None:
    """Freeze the decoder (token and position embeddings, layers, final norm, output projection)."""
    if layer_map.decoder is None:
        raise FinetuneError("finetune.freeze_decoder=true: this model has no decoder")
    _freeze(layer_map.decoder(model))


def freeze_feature_encoder(model: torch.nn.Module, layer_map: LayerMap) -> None:
    """Freeze the convolutional feature encoder (waveform → frames), the usual CTC fine-tuning recipe."""
    if layer_map.freeze_feature_encoder is not None:
        layer_map.freeze_feature_encoder(model)
