"""Each config dataclass's default values, read from their one source: the YAML under whisper_exp/conf/.

The dataclasses of config/schema.py are typed views without defaults; where code needs a group's values
outside a composed run (a source given on the command line, a LoRA record written before a field existed,
unit tests), it builds the dataclass from the YAML file that holds them (`HOMES`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from omegaconf import OmegaConf

from whisper_exp.config.schema import (
    DataConfig,
    EncoderCacheSettings,
    EvalConfig,
    ExportConfig,
    ExportParityConfig,
    FeatureConfig,
    FinetuneConfig,
    GenerationConfig,
    HallucinationConfig,
    ImdaConfig,
    KaldiConfig,
    LoggerConfig,
    LongFormConfig,
    LoraSettings,
    LossHealthConfig,
    MixConfig,
    OptimizerConfig,
    PackingConfig,
    SourceConfig,
    StrategyConfig,
    TimestampConfig,
    TrainerConfig,
)

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
SOURCE_DEFAULTS = "data_common/source/_default.yaml"

# dataclass → (YAML file under conf/, key of its node in that file; "" for the whole file).
HOMES: dict[type, tuple[str, str]] = {
    DataConfig: ("data_common/default.yaml", ""),
    MixConfig: ("data_common/default.yaml", "mix"),
    FeatureConfig: ("data_common/default.yaml", "features"),
    PackingConfig: ("data_common/default.yaml", "packing"),
    TimestampConfig: ("data_common/default.yaml", "timestamps"),
    SourceConfig: (SOURCE_DEFAULTS, ""),
    ImdaConfig: (SOURCE_DEFAULTS, "imda"),
    KaldiConfig: (SOURCE_DEFAULTS, "kaldi"),
    OptimizerConfig: ("optimizer/rule_of_thumb.yaml", ""),
    FinetuneConfig: ("finetune/full.yaml", ""),
    LoraSettings: ("finetune/full.yaml", "lora"),
    EncoderCacheSettings: ("finetune/full.yaml", "encoder_cache"),
    StrategyConfig: ("strategy/auto.yaml", ""),
    TrainerConfig: ("trainer/default.yaml", ""),
    LossHealthConfig: ("trainer/default.yaml", "loss_health"),
    LoggerConfig: ("logger/wandb.yaml", ""),
    GenerationConfig: ("config.yaml", "generation"),
    ExportConfig: ("config.yaml", "export"),
    ExportParityConfig: ("config.yaml", "export.parity"),
    EvalConfig: ("config.yaml", "eval"),
    HallucinationConfig: ("config.yaml", "eval.hallucination"),
    LongFormConfig: ("config.yaml", "eval.long_form"),
}

T = TypeVar("T")


def _load(file: str) -> dict[str, Any]:
    """conf/`file` as written, over the files of its own group that its defaults list names (a family base
    file such as _whisper.yaml, logger/_base.yaml; `_self_` must come last). config.yaml: its own values only
    (its defaults list picks the groups)."""
    node = OmegaConf.load(CONF_DIR / file)
    bases = list(node.pop("defaults", None) or []) if file != "config.yaml" else []
    merged = OmegaConf.create()
    for base in bases:
        if base == "_self_":
            continue
        if not isinstance(base, str) or "/" in base or "@" in base or bases[-1] != "_self_":
            raise ValueError(f"conf/{file}: only same-group bases before _self_ are read here, not {base!r}")
        merged = OmegaConf.merge(merged, _load(str(Path(file).parent / f"{base}.yaml")))
    return OmegaConf.to_container(OmegaConf.merge(merged, node))  # type: ignore[return-value]


def yaml_defaults(file: str, key: str = "", *, resolve: bool = True, **overrides: Any) -> dict[str, Any]:
    """The node `key` of conf/`file` (with its bases) as plain values, `overrides` replacing the values they name,
    interpolations resolved (unless `resolve` is false) as in a run whose other groups are unknown: against the
    top-level keys of conf/config.yaml (`${seed}`, `${task_name}`) and the file's own group (`${optimizer.lr}`)."""
    plain = _load(file)
    for part in key.split(".") if key else ():
        plain = plain[part]
    plain = {**plain, **overrides}
    if not resolve:
        return plain
    top = {k: v for k, v in _load("config.yaml").items() if not isinstance(v, dict | list)}
    group = {"data_common": "data"}.get(Path(file).parts[0], Path(file).parts[0])
    path = [part for part in (group if "/" in file else "", key) if part]
    if path:
        top.pop(path[0], None)
    root = OmegaConf.create(top)
    OmegaConf.update(root, ".".join(path) or "_node", plain, force_add=True)
    return OmegaConf.to_container(OmegaConf.select(root, ".".join(path) or "_node"), resolve=True)  # type: ignore


def typed_defaults(schema: type[T], **overrides: Any) -> T:
    """Dataclass `schema` holding its YAML defaults (`HOMES`) with `overrides`; nested dataclasses are built
    the same way unless given."""
    file, key = HOMES[schema]
    values = yaml_defaults(file, key, **overrides)
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))  # type: ignore[return-value]


def with_source_defaults(source: Any) -> dict[str, Any]:
    """A source as written (a mapping, possibly partial) filled from conf/data_common/source/_default.yaml; its
    `splits`, when given, replace the default ones (a source may lack a training split)."""
    given = dict(source or {})
    defaults = OmegaConf.create(yaml_defaults(SOURCE_DEFAULTS))
    if "splits" in given:
        defaults.splits = None
    return OmegaConf.to_container(OmegaConf.merge(defaults, given))  # type: ignore[return-value]
