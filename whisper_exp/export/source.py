"""What `python -m whisper_exp.export SOURCE` exports: a run dir, a run's .ckpt, an hf_model/ folder, any local
Whisper folder, or a CTranslate2 folder — always resolved to a transformers folder first (LoRA adapters
merged), since every exporter starts from one."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from whisper_exp.config.defaults import yaml_defaults
from whisper_exp.config.schema import ModelConfig
from whisper_exp.models.ctranslate2 import ensure_converted, is_ctranslate2_dir

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
HYDRA_CONFIG = Path(".hydra") / "config.yaml"
HF_DIRNAME = "hf_model"


class SourceError(ValueError):
    """SOURCE is not something that can be exported; the message says what was found."""


@dataclass
class ResolvedSource:
    """A transformers folder to export, the run dir it belongs to (if any) and its description."""

    hf_dir: Path
    run_dir: Path | None
    description: str


def is_run_dir(path: Path) -> bool:
    """A whisper_exp run dir: it has summary.json or Hydra's saved config."""
    return path.is_dir() and ((path / SUMMARY_FILE).is_file() or (path / HYDRA_CONFIG).is_file())


def is_hf_whisper_dir(path: Path) -> bool:
    """A transformers Whisper folder (config.json with model_type whisper)."""
    config = path / "config.json"
    return config.is_file() and json.loads(config.read_text()).get("model_type") == "whisper"


def run_dir_of(path: Path) -> Path | None:
    """The run dir `path` is in (itself, or a parent up to two levels: RUN/hf_model, RUN/checkpoints/x.ckpt)."""
    for candidate in (path, *list(path.parents)[:2]):
        if is_run_dir(candidate):
            return candidate
    return None


def _model_config(run_dir: Path | None, checkpoint: Path) -> ModelConfig:
    """The model group a run was trained with (for a .ckpt's base weights), else the Whisper family's base values
    (the .ckpt itself records its base weights and language settings are read from its generation config)."""
    config = run_dir / HYDRA_CONFIG if run_dir else None
    fields = yaml_defaults("model/_whisper.yaml", resolve=False)
    fields.update(name=checkpoint.stem, hub_id=None, params=0, pretrain_lr=0.0)  # not used to load a checkpoint
    if config is not None and config.is_file():
        model = OmegaConf.to_container(OmegaConf.load(config).get("model", {}), resolve=False)
        fields.update(dict(model))  # type: ignore[arg-type]
    known = set(ModelConfig.__dataclass_fields__)
    fields = {k: v for k, v in fields.items() if k in known}
    fields.update(checkpoint=str(checkpoint), source="local", options=None)
    return ModelConfig(**fields)


def _from_checkpoint(ckpt: Path, run_dir: Path | None, work_dir: Path, cache_dir: Path) -> Path:
    """Load a run's Lightning .ckpt (base + fine-tuned weights, LoRA merged) and save it as a transformers folder."""
    from whisper_exp.models.export import export_pretrained
    from whisper_exp.models.loading import load_whisper

    loaded = load_whisper(_model_config(run_dir, ckpt), cache_dir)
    return export_pretrained(loaded.model, loaded.processor, work_dir / HF_DIRNAME)


def resolve_source(source: Path, work_dir: Path, cache_dir: Path) -> ResolvedSource:
    """A transformers folder for `source`; `.ckpt` files are written as `work_dir/hf_model`."""
    source = source.expanduser()
    if not source.exists():
        raise SourceError(f"export source {source} does not exist")
    run_dir = run_dir_of(source)
    if source.is_file():
        if source.suffix != ".ckpt":
            raise SourceError(f"export source {source}: a file must be a run's Lightning .ckpt")
        return ResolvedSource(_from_checkpoint(source, run_dir, work_dir, cache_dir), run_dir, f"checkpoint {source}")
    if is_hf_whisper_dir(source):
        return ResolvedSource(source, run_dir, f"transformers folder {source}")
    if is_ctranslate2_dir(source):
        converted = ensure_converted(source, cache_dir)
        return ResolvedSource(converted, run_dir, f"CTranslate2 folder {source} (via {converted})")
    if is_run_dir(source):
        if is_hf_whisper_dir(source / HF_DIRNAME):
            return ResolvedSource(source / HF_DIRNAME, source, f"run {source} ({HF_DIRNAME})")
        summary = json.loads((source / SUMMARY_FILE).read_text()) if (source / SUMMARY_FILE).is_file() else {}
        best = summary.get("best_checkpoint") or summary.get("last_checkpoint")
        if best and Path(best).is_file():
            return ResolvedSource(_from_checkpoint(Path(best), source, work_dir, cache_dir), source,
                                  f"run {source} (checkpoint {best})")
        raise SourceError(f"run dir {source} has neither {HF_DIRNAME}/ nor a best/last checkpoint in {SUMMARY_FILE}")
    raise SourceError(f"export source {source} is not a run dir, a .ckpt, a transformers Whisper folder or a "
                      "CTranslate2 folder")
