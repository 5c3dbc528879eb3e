"""Config written once: the YAML under whisper_exp/conf/ holds every default; the dataclasses of config/schema.py
are typed views that repeat none of them (the exceptions below are not config values, or cannot live in YAML)."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
from omegaconf import MISSING

from whisper_exp.config.defaults import HOMES, typed_defaults, yaml_defaults
from whisper_exp.config.schema import (
    DataConfig,
    GenerationConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    SourceConfig,
    validate_config,
)
from whisper_exp.families import family_names, get_family

# The only dataclass fields with a default, and why.
EXCEPTIONS = {
    # Hydra partials: set from the YAML after typing (config.schema._typed), never a default of their own.
    (OptimizerConfig, "optimizer"): "set from optimizer/*.yaml after typing",
    (OptimizerConfig, "scheduler"): "set from optimizer/*.yaml after typing",
    # Not a config value: how the LR was chosen, written by validate_config for the log and summary.json.
    (OptimizerConfig, "lr_source"): "derived, not configured",
    # Filled by validate_config from model.<family options key>, typed by the family.
    (ModelConfig, "options"): "the family's typed options",
    # A data config that requires data.path / data.root writes `???`, and `???` cannot override a value of the
    # shared base conf/data_common/default.yaml in a merge: their null default cannot live in that file.
    (DataConfig, "path"): "`???` in a data config cannot override a base value",
    (DataConfig, "root"): "`???` in a data config cannot override a base value",
}
# Dataclasses whose values come from a chosen option file rather than one home (every option composes and
# validates: tests/config/test_compose.py).
OPTION_TYPED = {RunConfig, ModelConfig}


def _dataclasses(families: bool = True) -> list[type]:
    """Every dataclass a validated run holds: the groups, the types below them, and each family's options."""
    found: list[type] = []
    todo: list[type] = [RunConfig] + [t for n in family_names() if (t := get_family(n).options_type) is not None
                                      and families]
    while todo:
        cls = todo.pop()
        if cls in found:
            continue
        found.append(cls)
        hints = typing.get_type_hints(cls)
        for spec in dataclasses.fields(cls):
            todo += [t for t in _types(hints[spec.name]) if dataclasses.is_dataclass(t)]
    return found


def _types(hint: object) -> list[object]:
    return [hint, *[t for arg in typing.get_args(hint) for t in _types(arg)]]


def test_no_dataclass_field_has_a_default_besides_the_listed_exceptions() -> None:
    classes = _dataclasses()
    assert {SourceConfig, DataConfig, RunConfig} <= set(classes) and len(classes) > 20
    with_default = [(cls, spec.name) for cls in classes for spec in dataclasses.fields(cls)
                    if spec.default not in (dataclasses.MISSING, MISSING)  # omegaconf.MISSING ("???"): required
                    or spec.default_factory is not dataclasses.MISSING]
    unexpected = [f"{cls.__name__}.{name}" for cls, name in with_default if (cls, name) not in EXCEPTIONS]
    assert not unexpected, f"defaults belong in the YAML (config/defaults.HOMES), not the dataclass: {unexpected}"
    assert set(with_default) == set(EXCEPTIONS)


def test_every_config_dataclass_has_one_yaml_home_that_holds_each_of_its_values() -> None:
    for cls in _dataclasses(families=False):  # a family's options live in its model YAMLs (tests/families/)
        if cls in OPTION_TYPED:
            continue
        assert cls in HOMES, f"{cls.__name__} has no YAML home in config.defaults.HOMES"
        file, key = HOMES[cls]
        written = set(yaml_defaults(file, key, resolve=False))
        fields = {spec.name for spec in dataclasses.fields(cls)}
        listed = {name for owner, name in EXCEPTIONS if owner is cls}
        # Each field is written in the home, except the listed ones that are not (path/root, lr_source).
        assert fields - listed <= written, f"{cls.__name__}: {sorted(fields - listed - written)} missing in {file}"
        assert written <= fields, f"{file} {key}: {sorted(written - fields)} are not fields of {cls.__name__}"
        assert not {name for name in listed if name in written and name not in ("optimizer", "scheduler")}


def test_typed_defaults_builds_each_home_with_the_yaml_values() -> None:
    required = {DataConfig: {"name": "x"}, GenerationConfig: {"language": None, "task": None},
                OptimizerConfig: {"lr": 1e-4}}
    for cls in HOMES:
        built = typed_defaults(cls, **required.get(cls, {}))
        assert isinstance(built, cls)
    assert typed_defaults(SourceConfig).kaldi.official_test == "test"  # conf/data_common/source/_default.yaml
    assert typed_defaults(DataConfig, name="x").mix.seed == 42  # ${seed}: conf/config.yaml
    source = typed_defaults(SourceConfig, kind="hub", splits={"dev": "validation"})
    assert source.splits == {"dev": "validation"} and source.text_column == "transcription"


def test_a_source_states_only_its_differences(compose_config, tmp_path: Path) -> None:
    run = validate_config(compose_config("data=librispeech_clean100",
                                         f"+eval.extra_sets.rs={{kind: local, path: '{tmp_path}'}}"))
    other = run.data.sources["librispeech_other"]
    assert other.splits == {"dev-other": "validation", "test-other": "test"}  # declared splits replace defaults
    assert other.imda == typed_defaults(SourceConfig).imda
    extra = run.eval.extra_sets["rs"]
    assert (extra.kind, extra.path, extra.text_column) == ("local", str(tmp_path), "transcription")
    assert extra.splits == {"train": "train", "validation": "validation", "test": "test"}


@pytest.mark.parametrize("option", ["csv", "none", "wandb"])
def test_each_logger_option_states_only_its_differences(compose_config, option: str) -> None:
    logger = validate_config(compose_config(f"logger={option}")).logger
    base = yaml_defaults("logger/_base.yaml")
    assert logger.name == option and logger.project == base["project"] and logger.mode == base["mode"]
    assert logger.group == ("train" if option == "wandb" else None)
