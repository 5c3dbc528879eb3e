"""The real config composes for every model and data option; the LR rule; config errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from whisper_exp.__main__ import CONFIG_DIR
from whisper_exp.config.schema import ConfigError, validate_config

CONF = Path(CONFIG_DIR)
# The Whisper family's models (inheriting _whisper.yaml); other families compose too but follow other rules
# (tests/ctc/test_ctc_parts.py, tests/families/).
CTC_MODELS = ("wavlm_large_ctc", "wavlm_base_plus_ctc", "wav2vec2_base_ctc", "hubert_large_ctc")
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml") if "- _whisper" in p.read_text())
DATA = sorted(p.stem for p in (CONF / "data").glob("*.yaml"))
# Paths that data configs require (`???`); any existing folder composes, loading happens at run time.
REQUIRED_DATA_OVERRIDES = {"local": ["data.path=/tmp"], "manifest": ["data.path=/tmp"], "imda": ["data.root=/tmp"],
                           "imda_2500": ["data.root=/tmp"], "kaldi": ["data.path=/tmp"],
                           "speechocean762": ["data.root=/tmp"]}

PAPER_LR = {"tiny": 1.5e-3, "base": 1e-3, "small": 5e-4, "medium": 2.5e-4, "large": 1.75e-4}


def test_all_model_configs_present() -> None:
    expected = {"tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large-v2",
                "large-v3", "large-v3-turbo", "distil-large-v3", "distil-large-v2", "distil-medium.en",
                "distil-small.en"}
    assert expected <= set(MODELS)
    assert {p.stem for p in (CONF / "model").glob("*.yaml")} >= set(CTC_MODELS)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_composes_and_validates(compose_config, model: str) -> None:
    run = validate_config(compose_config(f"model={model}"))
    assert run.model.name == model
    assert run.model.hub_id.split("/")[-1].endswith(model.replace("distil-", "")) or model in run.model.hub_id
    assert run.model.num_mel_bins == (128 if "v3" in model else 80)
    assert run.model.english_only == model.endswith(".en")
    assert run.optimizer.lr == pytest.approx(run.model.pretrain_lr / 40)
    assert run.model.params > 0


@pytest.mark.parametrize("data", DATA)
def test_every_data_config_composes(compose_config, data: str) -> None:
    run = validate_config(compose_config(f"data={data}", *REQUIRED_DATA_OVERRIDES.get(data, [])))
    assert run.data.name == data
    assert run.data.sources


def test_speechocean762_experiment_is_the_studied_recipe(compose_config) -> None:
    run = validate_config(compose_config("experiment=speechocean762", "data.root=/tmp"))
    source = run.data.sources["speechocean762"]
    assert (run.model.name, run.finetune.name, run.data.packing.enabled) == ("tiny.en", "full", True)
    assert source.text_case == "sentence" and source.kaldi.test_speakers == 0.2
    assert run.eval.group_by == ["age_group"]
    guard = run.eval.extra_sets["real_speech"]  # a flat audiofolder: its one split is "train"
    assert (guard.kind, guard.splits) == ("local", {"test": "train"})


@pytest.mark.parametrize(("model", "paper"), [("tiny", "tiny"), ("tiny.en", "tiny"), ("base", "base"),
                                               ("small", "small"), ("medium.en", "medium"), ("large-v2", "large"),
                                               ("large-v3", "large")])
def test_lr_rule_is_paper_lr_over_40(compose_config, model: str, paper: str) -> None:
    run = validate_config(compose_config(f"model={model}"))
    assert run.model.pretrain_lr == PAPER_LR[paper]
    assert run.optimizer.lr == pytest.approx(PAPER_LR[paper] / 40)
    assert run.optimizer.lr_source.startswith("rule")


def test_explicit_lr_wins(compose_config) -> None:
    run = validate_config(compose_config("model=small", "optimizer.lr=1e-5"))
    assert run.optimizer.lr == 1e-5
    assert "explicitly" in run.optimizer.lr_source


def test_missing_required_path_names_the_key(compose_config) -> None:
    with pytest.raises(ConfigError, match=r"data\.path.*audiofolder"):
        validate_config(compose_config("data=local"))


def test_unknown_key_is_rejected(compose_config) -> None:
    with pytest.raises(ConfigError, match="trainer"):
        validate_config(compose_config("+trainer.max_stepz=3"))


def test_bad_choice_is_rejected(compose_config) -> None:
    with pytest.raises(ConfigError, match="on_error"):
        validate_config(compose_config("data.on_error=ignore"))


def test_whisper_rejects_windows_over_30_seconds(compose_config) -> None:
    with pytest.raises(ConfigError, match="30 s"):
        validate_config(compose_config("data.max_duration_s=45"))


def test_cli_cfg_job_composes_offline_and_unknown_model_lists_options() -> None:
    ok = subprocess.run([sys.executable, "-m", "whisper_exp", "model=small", "--cfg", "job"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "hub_id: openai/whisper-small" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "whisper_exp", "model=huge", "--cfg", "job"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0
    assert "Could not find 'model/huge'" in bad.stderr
    for option in ("tiny.en", "small", "large-v3-turbo", "distil-large-v3"):
        assert option in bad.stderr


def test_model_files_state_only_what_differs_from_their_family_base() -> None:
    """A size's YAML inherits its family base (_whisper.yaml, _ctc.yaml) and repeats none of its values."""
    import yaml

    def flat(node: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in node.items():
            if isinstance(value, dict) and key != "char_map":
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    sizes = [p for p in (CONF / "model").glob("*.yaml") if p.stem[0] != "_"]
    assert len(sizes) >= 19
    for path in sizes:
        own = yaml.safe_load(path.read_text())
        bases = [name for name in own.pop("defaults", []) if name != "_self_"]
        assert len(bases) == 1 and bases[0].startswith("_"), f"{path.name} inherits no family base"
        base = flat(yaml.safe_load((CONF / "model" / f"{bases[0]}.yaml").read_text()))
        repeated = {k: v for k, v in flat(own).items() if k in base and base[k] == v}
        assert not repeated, f"{path.name} repeats {repeated} from {bases[0]}.yaml"


def test_a_mixing_weight_the_mixer_refuses_fails_at_validation(compose_config) -> None:
    """One rule for mixing weights (data.mixing.probabilities_for), checked when the config is validated."""
    with pytest.raises(ConfigError, match=r"data\.mix\.probabilities gives no weight to source\(s\) \['fleurs'\]"):
        validate_config(compose_config("data=cv11_fleurs_el", "data.mix.probabilities={cv11: 1.0, fleurs: 0.0}"))
    assert validate_config(compose_config("data=cv11_fleurs_el", "data.mix.strategy=concatenate",
                                          "data.mix.probabilities={cv11: 1.0, fleurs: 0.0}")).data.mix


@pytest.mark.parametrize(("overrides", "key"), [
    (["trainer.precision=fp8"], "trainer.precision"),
    (["finetune=lora", "finetune.lora.bias=some"], "finetune.lora.bias"),
    (["data.mix.stopping_strategy=never"], "data.mix.stopping_strategy"),
    (["model=wavlm_base_plus_ctc", "model.ctc.ctc_loss_reduction=max"], "model.ctc.ctc_loss_reduction"),
    (["model=parakeet_ctc_0.6b", "model.parakeet.ctc_loss_reduction=max"], "model.parakeet.ctc_loss_reduction"),
])
def test_allowed_values_are_declared_with_their_field_and_named_when_wrong(compose_config, overrides: list[str],
                                                                          key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}=.* is not one of"):
        validate_config(compose_config(*overrides))
