"""8-bit base weights (bitsandbytes int8) for LoRA on large checkpoints: PEFT's large-v2 recipe.

bitsandbytes' int8 kernels need a CUDA GPU, so a machine without one stops here, before anything
is downloaded or loaded. Not yet verified on a GPU in this repository (see docs/finetuning.md).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import torch

from whisper_exp.config.schema import FinetuneConfig
from whisper_exp.finetune.freezing import FinetuneError


def require_int8_support() -> None:
    """Raise FinetuneError unless CUDA and bitsandbytes are both available."""
    if not torch.cuda.is_available():
        raise FinetuneError(
            "finetune.load_in_8bit=true (finetune=lora_8bit) needs a CUDA GPU: bitsandbytes' int8 kernels do not "
            "run on this machine's CPU. Use finetune=lora here (same adapters on a float32 base), or run on a GPU.")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise FinetuneError("finetune.load_in_8bit=true needs bitsandbytes: pip install -e '.[bnb]'")


def load_kwargs(cfg: FinetuneConfig) -> dict[str, Any]:
    """Extra `from_pretrained` arguments for the finetune preset (empty unless 8-bit)."""
    if not cfg.load_in_8bit:
        return {}
    require_int8_support()
    from transformers import BitsAndBytesConfig

    # Each process loads its int8 copy straight onto its own GPU (LOCAL_RANK under DDP launchers).
    device = int(os.environ.get("LOCAL_RANK", "0"))
    return {"quantization_config": BitsAndBytesConfig(load_in_8bit=True), "device_map": {"": device}}


def prepare_int8(model: torch.nn.Module, gradient_checkpointing: bool) -> torch.nn.Module:
    """PEFT's preparation of an int8 model for adapter training (fp32 norms, input grads)."""
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing,
                                           gradient_checkpointing_kwargs={"use_reentrant": False})
