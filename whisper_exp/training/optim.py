"""Optimiser and LR schedule from the optimizer group.

The optimiser and scheduler are Hydra `_target_` partials (AdamW and transformers'
get_scheduler by default); this module supplies what only the run knows: parameter groups
(no weight decay on biases and LayerNorm weights), the number of optimiser steps, and the
warm-up length.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from hydra.utils import instantiate

from whisper_exp.config.schema import OptimizerConfig

log = logging.getLogger(__name__)


def parameter_groups(model: torch.nn.Module, weight_decay: float, no_decay: list[str]) -> list[dict[str, Any]]:
    """Trainable parameters split into decayed and non-decayed groups (empty groups dropped)."""
    decay, plain = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (plain if any(marker in name for marker in no_decay) else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def warmup_steps(cfg: OptimizerConfig, total_steps: int) -> int:
    """Explicit `warmup_steps`, or `warmup_fraction` of the total optimiser steps."""
    steps = cfg.warmup_steps if cfg.warmup_steps is not None else round(cfg.warmup_fraction * total_steps)
    return max(0, min(int(steps), total_steps))


def build_optimizer(model: torch.nn.Module, cfg: OptimizerConfig, total_steps: int,
                    fused_allowed: bool = True) -> dict[str, Any]:
    """Lightning's optimizer config: optimiser + per-step scheduler, logging the LR used.

    fused_allowed=False (mixed precision with gradient clipping: Lightning refuses to clip for optimisers
    that unscale gradients inside `step`, which fused ones do) turns `fused: true` into `foreach: true`.
    """
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("no trainable parameters: the finetune preset froze everything")
    weight_decay = float(cfg.optimizer.get("weight_decay", 0.0))
    overrides: dict[str, Any] = {}
    if cfg.optimizer.get("fused") and not fused_allowed:
        overrides = {"fused": None, "foreach": True}
        log.info("optimizer: foreach instead of fused (mixed precision with gradient clipping)")
    optimizer = instantiate(cfg.optimizer, **overrides)(parameter_groups(model, weight_decay, list(cfg.no_decay)))
    warmup = warmup_steps(cfg, total_steps)
    scheduler = instantiate(cfg.scheduler)(optimizer=optimizer, num_warmup_steps=warmup,
                                           num_training_steps=total_steps)
    log.info("optimizer %s: peak lr %.3g (%s), %d warm-up steps of %d, schedule %s", type(optimizer).__name__,
             cfg.lr, cfg.lr_source,
             warmup, total_steps, cfg.scheduler.get("name"))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
