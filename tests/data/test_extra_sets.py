"""eval.extra_sets become named evaluation sets from their own sources, after the data's own (primary) sets."""

from __future__ import annotations

import pytest

from whisper_exp.config.schema import ConfigError, validate_config
from whisper_exp.evaluation import add_extra_sets, extra_set_changes

EXTRA = "+eval.extra_sets.general={kind: manifest, path: /data/general, splits: {test: all.csv}}"


def test_extra_sets_are_appended_as_named_sets(compose_config) -> None:
    run = validate_config(compose_config("data=speechocean762", "data.root=/tmp", EXTRA))
    add_extra_sets(run.data, run.eval)
    add_extra_sets(run.data, run.eval)  # a second build of the same config changes nothing
    assert run.data.validation_sets == ["validation", "general"] and run.data.test_sets == ["test", "general"]
    extra = run.data.sources["extra_general"]
    assert (extra.kind, extra.path, extra.splits) == ("manifest", "/data/general", {"general": "all.csv"})
    assert run.data.sources["speechocean762"].splits == {"train": "train", "validation": "validation", "test": "test"}


def test_an_extra_set_may_not_shadow_a_split(compose_config) -> None:
    run = validate_config(compose_config("data=speechocean762", "data.root=/tmp",
                                         "+eval.extra_sets.validation={kind: local, path: /x}"))
    with pytest.raises(ConfigError, match=r"eval.extra_sets.validation: the name must not"):
        add_extra_sets(run.data, run.eval)


def test_changes_are_final_minus_zero_shot(compose_config) -> None:
    run = validate_config(compose_config("data=speechocean762", "data.root=/tmp", EXTRA))
    assert extra_set_changes(run.eval, {"general": 0.25}, {"general": 0.3}) == {
        "general": {"zero_shot": 0.25, "final": 0.3, "change": pytest.approx(0.05)}}
    assert extra_set_changes(run.eval, {}, {"general": 0.3})["general"]["change"] is None
