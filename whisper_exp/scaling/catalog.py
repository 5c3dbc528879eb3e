"""Model sizes for predictions, read from the model config group (whisper_exp/conf/model/<name>.yaml `params`).

The model configs are the one source of truth for a checkpoint's parameter count; runs record the
same number in summary.json as `model_params_card`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from whisper_exp.__main__ import CONFIG_DIR

MODEL_CONFIG_DIR = Path(CONFIG_DIR) / "model"


class UnknownModelError(ValueError):
    """A model name has no config in whisper_exp/conf/model/ (and is not a number)."""


def available_models(config_dir: Path = MODEL_CONFIG_DIR) -> list[str]:
    """Names of the model configs (not the family bases, `_whisper.yaml`, that they inherit)."""
    return sorted(path.stem for path in config_dir.glob("*.yaml") if not path.stem.startswith("_"))


def model_params(name: str, config_dir: Path = MODEL_CONFIG_DIR) -> int:
    """Parameter count of model `name` (its config's `params`), or `name` itself if it is a number ("2e9")."""
    path = config_dir / f"{name}.yaml"
    if not path.is_file():
        try:
            count = float(name)
        except ValueError:
            raise UnknownModelError(f"unknown model {name!r}: no {path}; choose one of "
                                    f"{', '.join(available_models(config_dir))}, or give a parameter count "
                                    "such as 2e9") from None
        if count <= 0:
            raise UnknownModelError(f"a parameter count must be > 0, got {name!r}")
        return int(count)
    params = OmegaConf.load(path).get("params")
    if not isinstance(params, int) or params <= 0:
        raise UnknownModelError(f"{path}: `params` must be a positive integer, got {params!r}")
    return params
