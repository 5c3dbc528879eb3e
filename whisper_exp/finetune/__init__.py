"""What is trained: applies the finetune group to a loaded model and counts parameters.

`full` trains everything. `freeze_encoder: true` freezes the whole encoder (faster
convergence, larger batches). Further presets (first-N encoder layers, LoRA, 8-bit) plug in
here without touching the task or data code.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import torch

from whisper_exp.config.schema import FinetuneConfig

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


def count_parameters(model: torch.nn.Module) -> ParamCounts:
    """Total, trainable and frozen parameter counts (tied weights counted once)."""
    unique = {id(p): p for p in model.parameters()}.values()
    total = sum(p.numel() for p in unique)
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    return ParamCounts(total=total, trainable=trainable, frozen=total - trainable)


def apply_finetune(model: torch.nn.Module, cfg: FinetuneConfig) -> ParamCounts:
    """Set requires_grad per the preset; return and log the resulting counts."""
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    if cfg.freeze_encoder:
        encoder = model.get_encoder()
        for parameter in encoder.parameters():
            parameter.requires_grad_(False)
    counts = count_parameters(model)
    log.info("finetune=%s: %s parameters, %s trainable, %s frozen", cfg.name, f"{counts.total:,}",
             f"{counts.trainable:,}", f"{counts.frozen:,}")
    return counts
