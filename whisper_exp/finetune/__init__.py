"""What is trained: applies the finetune group to a loaded model and counts parameters.

Presets (whisper_exp/conf/finetune/): `full`; `freeze_encoder`; `freeze_encoder_layers` (finetune.frozen_layers=N:
conv stem, positional embedding and the first N encoder layers frozen); `freeze_decoder`; `lora`
(PEFT adapters on a frozen base); `lora_8bit` (the same on bitsandbytes int8 weights, CUDA only).
Activation checkpointing is applied afterwards, only to layers that still train.
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
    encoder_layer_count,
    freeze_ctc_layers,
    freeze_decoder,
    freeze_encoder_layers,
    freeze_feature_encoder,
    freeze_fixed_positions,
    resolve_frozen_layers,
)
from whisper_exp.finetune.lora import add_lora, merge_lora, save_adapter, settings_record
from whisper_exp.finetune.quantization import load_kwargs, prepare_int8

__all__ = [
    "FinetuneError", "FinetuneResult", "ParamCounts", "add_lora", "apply_finetune", "count_parameters",
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


def count_parameters(model: torch.nn.Module) -> ParamCounts:
    """Total, trainable and frozen parameter counts (tied weights counted once)."""
    unique = {id(p): p for p in model.parameters()}.values()
    total = sum(p.numel() for p in unique)
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    return ParamCounts(total=total, trainable=trainable, frozen=total - trainable)


def describe_finetune(cfg: FinetuneConfig, n_encoder_layers: int | None = None, family: str = "whisper") -> str:
    """What trains, in one tag: full | freeze_encoder | frozen_layers=N | freeze_decoder | lora(r=…) | lora_8bit(…)."""
    if cfg.lora.enabled:
        targets = cfg.lora.target_modules
        targets = targets if isinstance(targets, str) else "+".join(targets)
        return f"{'lora_8bit' if cfg.load_in_8bit else 'lora'}(r={cfg.lora.r},{targets})"
    parts = []
    layers = cfg.frozen_layers
    if layers == "all" or (n_encoder_layers is not None and layers == n_encoder_layers):
        parts.append("freeze_encoder")
    elif layers:
        parts.append(f"frozen_layers={layers}")
    if cfg.freeze_decoder:
        parts.append("freeze_decoder")
    if family == "ctc" and cfg.freeze_feature_encoder and "freeze_encoder" not in parts:
        parts.append("freeze_feature_encoder")
    return "+".join(parts) or "full"


def apply_finetune(model: torch.nn.Module, cfg: FinetuneConfig, *, gradient_checkpointing: bool = False,
                   family: str = "whisper") -> FinetuneResult:
    """Freeze / add adapters per the preset, then checkpoint activations where gradients flow; log the counts.

    family "ctc" (wav2vec2 / WavLM / HuBERT): frozen_layers counts transformer layers above the feature
    encoder, which finetune.freeze_feature_encoder keeps frozen; LoRA needs the new head in modules_to_save.
    """
    n_layers = encoder_layer_count(model)
    freeze_fixed_positions(model)
    adapter = None
    if cfg.lora.enabled:
        if family == "ctc" and "lm_head" not in cfg.lora.modules_to_save:
            raise FinetuneError("finetune.lora on a CTC model: its new head must train too; use finetune=ctc_lora "
                                "or set finetune.lora.modules_to_save=[lm_head]")
        if cfg.load_in_8bit:
            model = prepare_int8(model, gradient_checkpointing)
        adapter = add_lora(model, cfg.lora)
    elif family == "ctc":
        if cfg.freeze_feature_encoder:
            freeze_feature_encoder(model)
        freeze_ctc_layers(model, resolve_frozen_layers(cfg.frozen_layers, n_layers))
    else:
        freeze_encoder_layers(model, resolve_frozen_layers(cfg.frozen_layers, n_layers))
        if cfg.freeze_decoder:
            freeze_decoder(model)
    if not any(p.requires_grad for p in model.parameters()):
        raise FinetuneError(f"finetune={cfg.name} leaves no trainable parameter (frozen_layers={cfg.frozen_layers}, "
                            f"freeze_decoder={cfg.freeze_decoder})")
    if gradient_checkpointing:
        enable_activation_checkpointing(model)
    counts = count_parameters(model)
    mode = describe_finetune(cfg, n_layers, family)
    log.info("finetune=%s (%s): %s parameters, %s trainable, %s frozen", cfg.name, mode, f"{counts.total:,}",
             f"{counts.trainable:,}", f"{counts.frozen:,}")
    return FinetuneResult(counts=counts, mode=mode, adapter=adapter)
