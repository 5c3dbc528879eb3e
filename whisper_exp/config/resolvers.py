"""OmegaConf resolvers used by the YAML configs (registered when whisper_exp is imported).

* ``${wx.div:a,b}`` → a / b (the LR rule: ``${wx.div:${model.pretrain_lr},40}``).
* ``${wx.package_path:relative}`` → absolute path of a file shipped inside the package
  (the embedded demo corpus), so configs work from any working directory.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def _divide(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator)


def _package_path(relative: str) -> str:
    return str(PACKAGE_ROOT / relative)


def register_resolvers() -> None:
    """Register the resolvers once (idempotent)."""
    for name, function in (("wx.div", _divide), ("wx.package_path", _package_path)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)
