"""LoRA adapters through PEFT: add them, save them alone, merge them into the base for export.

The adapters are injected in place, so the Whisper module the task trains stays the same object
(its state-dict keys gain `…base_layer…` and `…lora_A/B.default…`); the returned PeftModel is kept
only to save the adapter folder and to merge.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import LoraSettings
from whisper_exp.finetune.freezing import FinetuneError

log = logging.getLogger(__name__)

LORA_MARKER = ".lora_"


def _peft() -> Any:
    try:
        import peft
    except ImportError as err:
        raise FinetuneError("finetune.lora needs PEFT: pip install -e '.[peft]'") from err
    return peft


def lora_config(settings: LoraSettings) -> Any:
    """The peft.LoraConfig for `settings` (target_modules: a list of names or "all-linear")."""
    targets = settings.target_modules
    targets = targets if isinstance(targets, str) else list(targets)
    return _peft().LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                              target_modules=targets, bias=settings.bias,
                              modules_to_save=list(settings.modules_to_save) or None)


def add_lora(model: torch.nn.Module, settings: LoraSettings) -> Any:
    """Inject LoRA adapters into `model` in place (base frozen); return the PeftModel wrapper."""
    config = lora_config(settings)
    with warnings.catch_warnings():
        # PEFT probes transformers' deprecated `is_gradient_checkpointing`; nothing for users to act on.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        try:
            return _peft().get_peft_model(model, config)
        except ValueError as err:
            raise FinetuneError(f"finetune.lora.target_modules={settings.target_modules!r}: {err}") from err


def merge_lora(adapter: Any) -> torch.nn.Module:
    """Fold the adapters into the base weights and remove them: a plain transformers model again."""
    return adapter.merge_and_unload()


def save_adapter(adapter: Any, directory: Path) -> int:
    """Write the adapters alone in PEFT's format (adapter_config.json + weights); return their bytes."""
    adapter.save_pretrained(str(directory))
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def settings_record(settings: LoraSettings) -> dict[str, Any]:
    """What a checkpoint records to rebuild the adapters later (plain types only)."""
    record = asdict(settings)
    targets = record["target_modules"]
    record["target_modules"] = targets if isinstance(targets, str) else list(targets)
    record["modules_to_save"] = list(record.get("modules_to_save") or [])
    return record


def load_merged(model: torch.nn.Module, record: dict[str, Any], weights: dict[str, torch.Tensor],
                origin: str) -> torch.nn.Module:
    """Rebuild the adapters of `record` on `model`, load a run's `weights` into them, merge, return the model.

    `weights` may hold the adapters only (adapter-only checkpoints) or the full state; every
    adapter tensor must be present and every key must belong to the model.
    """
    # A record written before a field existed lacks it: that field takes its value from conf/finetune/full.yaml.
    known = {k: v for k, v in record.items() if k in LoraSettings.__dataclass_fields__}
    settings = typed_defaults(LoraSettings, **known)
    adapter = add_lora(model, settings)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing_adapters = [key for key in missing if LORA_MARKER in key]
    if unexpected or missing_adapters:
        raise FinetuneError(f"{origin} does not match LoRA {record}: unexpected {unexpected[:5]}, "
                            f"missing adapter weights {missing_adapters[:5]}")
    log.info("LoRA adapters of %s merged into the base weights", origin)
    return merge_lora(adapter)
