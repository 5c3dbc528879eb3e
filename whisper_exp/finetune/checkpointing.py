"""Activation (gradient) checkpointing only where gradients flow.

Recomputing a frozen layer in the backward pass buys nothing: its activations are not kept for
autograd anyway when no input or weight needs a gradient. So after transformers switches
checkpointing on for every layer, layers without a trainable parameter are switched back off.
The KV cache is useless while training and conflicts with checkpointing, so `use_cache=False`
is set on the config (generation passes use_cache=True itself; export restores it).
"""

from __future__ import annotations

import logging
import warnings

import torch
from transformers.modeling_layers import GradientCheckpointingLayer

log = logging.getLogger(__name__)

NON_REENTRANT = {"use_reentrant": False}


def _switch_on(model: torch.nn.Module) -> None:
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs=NON_REENTRANT)
        return
    with warnings.catch_warnings():  # older transformers 5.x: the same call under its previous name
        warnings.simplefilter("ignore", FutureWarning)
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=NON_REENTRANT)


def enable_activation_checkpointing(model: torch.nn.Module) -> list[str]:
    """Checkpoint the layers that hold trainable parameters; return their names."""
    _switch_on(model)
    checkpointed = []
    for name, module in model.named_modules():
        if not isinstance(module, GradientCheckpointingLayer):
            continue
        module.gradient_checkpointing = any(p.requires_grad for p in module.parameters())
        if module.gradient_checkpointing:
            checkpointed.append(name)
    model.config.use_cache = False
    log.info("activation checkpointing on %d trainable layers (frozen layers are not recomputed)", len(checkpointed))
    return checkpointed
