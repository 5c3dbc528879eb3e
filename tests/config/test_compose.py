"""The real config composes for every model and data option; the LR rule; config errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from whisper_exp.__main__ import CONFIG_DIR
from whisper_exp.config.schema import ConfigError, validate_config

CONF = Path(CONFIG_DIR)
# CTC models (wav2vec2 / WavLM / HuBERT) compose too but follow other rules (tests/ctc/test_ctc_parts.py).
CTC_MODELS = ("wavlm_large_ctc", "wavlm_base_plus_ctc", "wav2vec2_base_ctc", "hubert_large_ctc")
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml") if p.stem not in CTC_MODELS)
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
