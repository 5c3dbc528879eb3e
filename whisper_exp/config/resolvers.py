"""OmegaConf resolvers used by the YAML configs (registered when whisper_exp is imported).

* ``${wx.lr_rule:pretrain_lr,divisor,finetune_lr}`` → finetune_lr when set (checkpoints without a
  pretraining-LR rule, e.g. CTC models), else pretrain_lr / divisor (`lr_rule`, which also says which
  applied: the one place that precedence is decided).
* ``${wx.package_path:relative}`` → absolute path of a file shipped inside the package
  (the embedded demo corpus), so configs work from any working directory.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def lr_rule(pretrain_lr: float, divisor: float, finetune_lr: float | None, model_name: str = "") -> tuple[float, str]:
    """The rule's fine-tuning LR and where it came from: model.finetune_lr when the checkpoint has one, else
    model.pretrain_lr / optimizer.lr_divisor. (An explicit optimizer.lr replaces the rule altogether.)"""
    if finetune_lr is not None:
        return float(finetune_lr), f"model.finetune_lr {float(finetune_lr):g} (recommended for {model_name})"
    return float(pretrain_lr) / float(divisor), f"rule: model.pretrain_lr {float(pretrain_lr):g} / {float(divisor):g}"


def _lr_rule(pretrain_lr: float, divisor: float, finetune_lr: float | None = None) -> float:
    return lr_rule(pretrain_lr, divisor, finetune_lr)[0]


def _package_path(relative: str) -> str:
    return str(PACKAGE_ROOT / relative)


def register_resolvers() -> None:
    """Register the resolvers once (idempotent)."""
    for name, function in (("wx.lr_rule", _lr_rule), ("wx.package_path", _package_path)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)
