"""Typed schemas for the config groups, and the check that turns a composed config into them.

Hydra composes YAML; `validate_config` merges each group onto its dataclass so that an
unknown key, a wrong type or a missing required value fails at start-up with the key's full
name and what to set, instead of deep inside training. Modules receive their own group's
dataclass, never the whole config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, MissingMandatoryValue, OmegaConfBaseException, ValidationError


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range; the message names the key."""


@dataclass
class ModelConfig:
    """One checkpoint: where its weights come from and its published facts."""

    family: str = "whisper"
    name: str = "???"
    hub_id: str = "???"
    source: str = "auto"
    bundled: str | None = None
    checkpoint: str | None = None
    params: int = 0
    num_mel_bins: int = 80
    english_only: bool = False
    pretrain_lr: float = 0.0
    language: str | None = None
    task: str | None = "transcribe"
    max_target_positions: int = 448
    dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0


@dataclass
class SourceConfig:
    """One corpus feeding the data group (kind-specific keys are ignored by other kinds)."""

    kind: str = "local"
    path: str | None = None
    text_column: str = "transcription"
    splits: dict[str, str] = field(default_factory=lambda: {"train": "train", "validation": "validation",
                                                            "test": "test"})


@dataclass
class FeatureConfig:
    """Log-mel cache settings."""

    cache: bool = True
    dtype: str = "float32"


@dataclass
class DataConfig:
    """Sources, filters, subsets and loaders."""

    name: str = "???"
    help: str = ""
    path: str | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    sampling_rate: int = 16000
    train_samples: int | None = None
    min_duration_s: float = 0.1
    max_duration_s: float = 30.0
    on_error: str = "raise"
    text_normaliser: str = "auto"
    label_leading_space: bool = True
    batch_size: int = 8
    eval_batch_size: int = 16
    num_workers: int = 0
    features: FeatureConfig = field(default_factory=FeatureConfig)


@dataclass
class OptimizerConfig:
    """AdamW + LR schedule; `optimizer` and `scheduler` are Hydra `_target_` partials."""

    name: str = "rule_of_thumb"
    lr: float = 0.0
    lr_divisor: float = 40.0
    warmup_steps: int | None = None
    warmup_fraction: float = 0.1
    no_decay: list[str] = field(default_factory=lambda: ["bias", "layer_norm.weight"])
    optimizer: Any = None
    scheduler: Any = None
    # Filled in by validate_config: how the LR was chosen (for the log and summary.json).
    lr_source: str = ""


@dataclass
class FinetuneConfig:
    """What is trained. `full` trains everything; later presets freeze parts or add adapters."""

    name: str = "full"
    freeze_encoder: bool = False


@dataclass
class StrategyConfig:
    """Lightning strategy and devices."""

    name: str = "auto"
    strategy: str = "auto"
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1


@dataclass
class TrainerConfig:
    """Loop length, validation cadence, precision, checkpointing."""

    max_steps: int = -1
    max_epochs: int | None = None
    val_check_interval: Any = 1.0
    check_val_every_n_epoch: int | None = 1
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    precision: str = "32-true"
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = 1.0
    log_every_n_steps: int = 10
    gradient_checkpointing: bool = False
    deterministic: bool = False
    baseline_eval: bool = True
    monitor: str = "val/wer"
    monitor_mode: str = "min"
    save_top_k: int = 1
    save_last: bool = True
    enable_progress_bar: bool = True
    fast_dev_run: bool = False
    overfit_batches: float = 0.0


@dataclass
class LoggerConfig:
    """Experiment tracking: wandb (online/offline), csv or none."""

    name: str = "wandb"
    project: str = "whisper_exp"
    entity: str | None = None
    group: str | None = None
    mode: str = "auto"
    log_model: bool = False


@dataclass
class GenerationConfig:
    """How evaluation decodes."""

    language: str | None = None
    task: str | None = "transcribe"
    num_beams: int = 1
    max_new_tokens: int = 225
    log_examples: int = 20


@dataclass
class ExportConfig:
    """Export of the best model as a Hugging Face folder."""

    enabled: bool = True
    dirname: str = "hf_model"


@dataclass
class RunConfig:
    """The validated run: one attribute per group."""

    task_name: str
    seed: int
    tags: list[str]
    cache_dir: str
    output_dir: str
    model: ModelConfig
    data: DataConfig
    optimizer: OptimizerConfig
    finetune: FinetuneConfig
    strategy: StrategyConfig
    trainer: TrainerConfig
    logger: LoggerConfig
    generation: GenerationConfig
    export: ExportConfig


GROUPS: dict[str, type] = {
    "model": ModelConfig, "data": DataConfig, "optimizer": OptimizerConfig, "finetune": FinetuneConfig,
    "strategy": StrategyConfig, "trainer": TrainerConfig, "logger": LoggerConfig,
    "generation": GenerationConfig, "export": ExportConfig,
}
CHOICES = {
    ("model", "source"): ("auto", "hub", "bundled", "local"),
    ("data", "on_error"): ("raise", "skip"),
    ("data", "text_normaliser"): ("auto", "english", "basic", "none"),
    ("logger", "name"): ("wandb", "csv", "none"),
    ("logger", "mode"): ("auto", "online", "offline", "disabled"),
    ("trainer", "monitor_mode"): ("min", "max"),
}


def _missing_message(cfg: DictConfig, key: str) -> str:
    group = key.split(".")[0]
    hint = OmegaConf.select(cfg, f"{group}.help", default="") if group == "data" else ""
    return f"missing required config value {key!r}: set it on the command line, e.g. {key}=…" + (
        f" ({hint})" if hint else "")


def _missing_keys(node: Any, prefix: str = "") -> list[str]:
    """Keys whose value is `???`, found without resolving interpolations (unlike OmegaConf.missing_keys)."""
    found: list[str] = []
    if not isinstance(node, DictConfig):
        return found
    for key in node:
        if key == "hydra":
            continue
        if OmegaConf.is_missing(node, key):
            found.append(f"{prefix}{key}")
            continue
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not OmegaConf.is_interpolation(node, key):
            found += _missing_keys(child, f"{prefix}{key}.")
    return found


def _typed(cfg: DictConfig, group: str, schema: type) -> Any:
    node = cfg.get(group)
    if node is None:
        raise ConfigError(f"config group {group!r} is missing from the composed config")
    plain = OmegaConf.to_container(node, resolve=True)
    passthrough = {k: plain.pop(k) for k in ("optimizer", "scheduler") if schema is OptimizerConfig and k in plain}
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), plain)
        obj = OmegaConf.to_object(merged)
    except (ConfigKeyError, ValidationError) as err:
        raise ConfigError(f"invalid config in group {group!r}: {err.msg if hasattr(err, 'msg') else err}") from err
    except MissingMandatoryValue as err:
        raise ConfigError(_missing_message(cfg, f"{group}.{err.full_key}")) from err
    for name, value in passthrough.items():
        setattr(obj, name, value)
    return obj


def _check_choices(run: RunConfig) -> None:
    for (group, key), allowed in CHOICES.items():
        value = getattr(getattr(run, group), key)
        if value not in allowed:
            raise ConfigError(f"{group}.{key}={value!r} is not one of {allowed}")
    if run.optimizer.lr <= 0:
        raise ConfigError(f"optimizer.lr must be > 0 (got {run.optimizer.lr}); set it or model.pretrain_lr")
    if not 0 <= run.optimizer.warmup_fraction < 1:
        raise ConfigError("optimizer.warmup_fraction must be in [0, 1)")
    if run.data.batch_size < 1 or run.data.eval_batch_size < 1:
        raise ConfigError("data.batch_size and data.eval_batch_size must be >= 1")
    if run.data.max_duration_s > 30.0 and run.model.family == "whisper":
        raise ConfigError("data.max_duration_s > 30 s: Whisper's encoder sees at most 30 s per sample; "
                          "longer audio would be silently truncated. Keep it <= 30 or segment the audio.")
    if not run.data.sources:
        raise ConfigError(f"data group {run.data.name!r} defines no sources")


def validate_config(cfg: DictConfig) -> RunConfig:
    """Resolve and type-check a composed config; raise ConfigError naming the offending key."""
    for key in _missing_keys(cfg):
        raise ConfigError(_missing_message(cfg, key))
    try:
        groups = {group: _typed(cfg, group, schema) for group, schema in GROUPS.items()}
        top = {
            "task_name": cfg.task_name, "seed": int(cfg.seed), "tags": [str(t) for t in cfg.tags],
            "cache_dir": str(cfg.paths.cache_dir), "output_dir": str(cfg.paths.output_dir),
        }
    except MissingMandatoryValue as err:
        raise ConfigError(_missing_message(cfg, str(err.full_key))) from err
    except OmegaConfBaseException as err:
        raise ConfigError(f"cannot resolve config: {err}") from err
    run = RunConfig(**top, **groups)
    _check_choices(run)
    rule = OmegaConf.is_interpolation(cfg.optimizer, "lr")
    run.optimizer.lr_source = (f"rule: model.pretrain_lr {run.model.pretrain_lr:g} / {run.optimizer.lr_divisor:g}"
                               if rule else "set explicitly (optimizer.lr)")
    return run
