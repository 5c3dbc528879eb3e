"""What is trained: applies the finetune group to a loaded model and counts parameters.

Presets (whisper_exp/conf/finetune/): `full`; `freeze_encoder`; `freeze_encoder_layers` (finetune.frozen_layers=N:
the stem below the encoder layers and the first N layers frozen); `freeze_decoder`; `lora` (PEFT adapters on a
frozen base); `lora_8bit` (the same on bitsandbytes int8 weights, CUDA only). Where these parts lie in a model is
its family's `LayerMap` (whisper_exp.families). Activation checkpointing is applied afterwards, only to layers
that still train.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import torch

from whisper_exp.config.schema import FinetuneConfig
from whisper_exp.finetune.checkpointing import enable_activation_checkpointing
from whisper_exp.finetune.freezing import (
    FinetuneError,
    LayerMap,
    freeze_decoder,
    freeze_encoder_layers,
    freeze_feature_encoder,
    freeze_fixed,
    resolve_frozen_layers,
)
from whisper_exp.finetune.lora import add_lora, merge_lora, save_adapter, settings_record
from whisper_exp.finetune.quantization import load_kwargs, prepare_int8

__all__ = [
    "FinetuneError", "FinetuneResult", "LayerMap", "ParamCounts", "add_lora", "apply_finetune", "count_parameters",
    "describe_finetune", "enable_activation_checkpointing", "load_kwargs", "merge_lora", "save_adapter",
    "settings_record",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts after the finetune preset was applied."""

    total: int
    trainable: int
    frozen: int

    def as_dict(self) -> dict[str, int]:
        """{"params_total": …, "params_trainable": …, "params_frozen": …}."""
        return {f"params_{name}": value for name, value in asdict(self).items()}


@dataclass
class FinetuneResult:
    """The preset as applied: counts, a one-line description, and the PEFT wrapper when LoRA is on."""

    counts: ParamCounts
    mode: str
    adapter: Any | None = None
    # finetune.frozen_layers resolved against this encoder (0..N): the one value later stages read.
    frozen_layers: int = 0


def count_parameters(model: torch.nn.Module) -> ParamCounts:
    """Total, trainable and frozen parameter counts (tied weights counted once)."""
    unique = {id(p): p for p in model.parameters()}.values()
    total = sum(p.numel() for p in unique)
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    return ParamCounts(total=total, trainable=trainable, frozen=total - trainable)


def describe_finetune(cfg: FinetuneConfig, n_frozen: int, n_layers: int, *,
                      has_feature_encoder: bool = False) -> str:
    """What trains, in one tag: full | freeze_encoder | frozen_layers=N | freeze_decoder | lora(r=…) | lora_8bit(…);
    `n_frozen`: the resolved `finetune.frozen_layers` of an encoder of `n_layers`."""
    if cfg.lora.enabled:
        targets = cfg.lora.target_modules
        targets = targets if isinstance(targets, str) else "+".join(targets)
        return f"{'lora_8bit' if cfg.load_in_8bit else 'lora'}(r={cfg.lora.r},{targets})"
    parts = []
    if n_frozen and n_frozen == n_layers:
        parts.append("freeze_encoder")
    elif n_frozen:
        parts.append(f"frozen_layers={n_frozen}")
    if cfg.freeze_decoder:
        parts.append("freeze_decoder")
    if has_feature_encoder and cfg.freeze_feature_encoder and "freeze_encoder" not in parts:
        parts.append("freeze_feature_encoder")
    return "+".join(parts) or "full"


def apply_finetune(model: torch.nn.Module, cfg: FinetuneConfig, *, layer_map: LayerMap,
                   gradient_checkpointing: bool = False) -> FinetuneResult:
    """Freeze / add adapters per the preset, then checkpoint activations where gradients flow; log the counts.

    `layer_map`: the family's map of its model (frozen_layers counts its encoder layers; a family with a
    feature encoder keeps it frozen under finetune.freeze_feature_encoder; LoRA trains its new modules in full).
    """
    n_layers = layer_map.layer_count(model)
    n_frozen = resolve_frozen_layers(cfg.frozen_layers, n_layers)
    freeze_fixed(model, layer_map)
    adapter = None
    if cfg.lora.enabled:
        missing = [name for name in layer_map.lora_full_modules if name not in cfg.lora.modules_to_save]
        if missing:
            raise FinetuneError(f"finetune.lora on this model: its new head must train too; use finetune=ctc_lora "
                                f"or set finetune.lora.modules_to_save={missing}")
        if cfg.load_in_8bit:
            model = prepare_int8(model, gradient_checkpointing)
        adapter = add_lora(model, cfg.lora)
    else:
        if cfg.freeze_feature_encoder:
            freeze_feature_encoder(model, layer_map)
        freeze_encoder_layers(model, layer_map, n_frozen)
        if cfg.freeze_decoder:
            freeze_decoder(model, layer_map)
    if not any(p.requires_grad for p in model.parameters()):
        raise FinetuneError(f"finetune={cfg.name} leaves no trainable parameter (frozen_layers={cfg.frozen_layers}, "
                            f"freeze_decoder={cfg.freeze_decoder})")
    if gradient_checkpointing:
        enable_activation_checkpointing(model)
    counts = count_parameters(model)
    mode = describe_finetune(cfg, n_frozen, n_layers, has_feature_encoder=layer_map.freeze_feature_encoder is not None)
    log.info("finetune=%s (%s): %s parameters, %s trainable, %s frozen", cfg.name, mode, f"{counts.total:,}",
             f"{counts.trainable:,}", f"{counts.frozen:,}")
    return FinetuneResult(counts=counts, mode=mode, adapter=adapter, frozen_layers=n_frozen)
