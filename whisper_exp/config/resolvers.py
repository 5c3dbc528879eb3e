"""OmegaConf resolvers used by the YAML configs (registered when whisper_exp is imported).

* ``${wx.div:a,b}`` → a / b (the LR rule: ``${wx.div:${model.pretrain_lr},40}``).
* ``${wx.lr_rule:pretrain_lr,divisor,finetune_lr}`` → finetune_lr when set (checkpoints without a
  pretraining-LR rule, e.g. CTC models), else pretrain_lr / divisor.
* ``${wx.package_path:relative}`` → absolute path of a file shipped inside the package
  (the embedded demo corpus), so configs work from any working directory.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def _divide(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator)


def _lr_rule(pretrain_lr: float, divisor: float, finetune_lr: float | None = None) -> float:
    return float(finetune_lr) if finetune_lr is not None else _divide(pretrain_lr, divisor)


def _package_path(relative: str) -> str:
    return str(PACKAGE_ROOT / relative)


def register_resolvers() -> None:
    """Register the resolvers once (idempotent)."""
    for name, function in (("wx.div", _divide), ("wx.lr_rule", _lr_rule), ("wx.package_path", _package_path)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)
