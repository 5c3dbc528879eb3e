"""Build the Lightning logger from the logger group.

W&B `mode: auto` goes online only when credentials exist (WANDB_API_KEY, or an api.wandb.ai
entry written by `wandb login` in ~/.netrc) and WANDB_MODE is not set to something else;
otherwise it runs offline into the run dir and says how to upload it later.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

from whisper_exp.config.schema import LoggerConfig

log = logging.getLogger(__name__)

WANDB_HOST = "api.wandb.ai"


def wandb_credentials_present() -> bool:
    """True when W&B could authenticate without asking (env var or netrc entry)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def wandb_mode(cfg: LoggerConfig) -> str:
    """The W&B mode to run in: the configured one, or online/offline by credentials."""
    if cfg.mode != "auto":
        return cfg.mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if wandb_credentials_present() else "offline"


def build_logger(
    cfg: LoggerConfig, run_dir: Path, *, run_name: str, tags: list[str], config: dict[str, Any]
) -> Logger | None:
    """The configured logger (None for `logger=none`), with the resolved config attached."""
    if cfg.name == "none":
        return None
    if cfg.name == "csv":
        logger: Logger = CSVLogger(save_dir=str(run_dir), name="csv", version="")
    else:
        mode = wandb_mode(cfg)
        logger = WandbLogger(project=cfg.project, entity=cfg.entity, group=cfg.group, name=run_name, tags=tags,
                             save_dir=str(run_dir), mode=mode, log_model=cfg.log_model)
        if mode == "offline":
            log.info("W&B is offline (no credentials found). Upload this run later with: wandb sync %s",
                     run_dir / "wandb" / "offline-run-*")
    logger.log_hyperparams(config)
    return logger
