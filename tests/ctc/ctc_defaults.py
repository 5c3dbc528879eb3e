"""The CTC family's settings as its model YAML states them (conf/model/_ctc.yaml, their one source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from whisper_exp.families.ctc_vocab import CtcVocabConfig

CTC_BASE = Path(__file__).resolve().parents[2] / "whisper_exp" / "conf" / "model" / "_ctc.yaml"


def vocab_config(**overrides: Any) -> CtcVocabConfig:
    """`model.ctc.vocab` of conf/model/_ctc.yaml, with `overrides`."""
    values = OmegaConf.to_container(OmegaConf.load(CTC_BASE).ctc.vocab)
    return CtcVocabConfig(**{**values, **overrides})  # type: ignore[arg-type]
