"""Lightning strategies from the strategy group, and multi-process launching under Hydra.

auto | ddp (child processes re-run the command) | ddp_spawn (torch.multiprocessing) | fsdp (CUDA) |
deepspeed (optional extra, CUDA). Processes started from outside (torchrun, SLURM srun, submitit)
are recognised by Lightning's cluster environments from their environment variables.

Lightning's DDP launcher re-runs `sys.argv` in its child processes. Inside a Hydra multirun that is
the whole sweep (`-m optimizer.lr=1e-5,3e-5`) and the children write to a fresh clock-stamped run
dir; `HydraJobLauncher` gives them this job's own overrides and run dir instead, without `-m`, a
.hydra/ folder or a log file of their own.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy, FSDPStrategy, Strategy
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import read_write
from transformers.modeling_layers import GradientCheckpointingLayer

from whisper_exp.config.schema import StrategyConfig

log = logging.getLogger(__name__)

# Hydra command-line flags (with a value) that the child processes need as well.
HYDRA_VALUE_FLAGS = ("--config-name", "-cn", "--config-path", "-cp", "--config-dir", "-cd")
# Children run one job (a preset may set hydra.mode=MULTIRUN) and log to the console only (no file handler is
# even created, so no empty per-rank log file appears).
CHILD_OVERRIDES = ("hydra.mode=RUN", "hydra.job_logging.root.handlers=[console]", "~hydra.job_logging.handlers.file")


class StrategyError(RuntimeError):
    """The strategy group asks for something this machine or install cannot do."""


def layer_classes(model: torch.nn.Module) -> set[type[torch.nn.Module]]:
    """The repeated transformer block classes (FSDP wraps each block as one unit)."""
    return {type(module) for module in model.modules() if isinstance(module, GradientCheckpointingLayer)}


def build_strategy(cfg: StrategyConfig, wrap_classes: set[type[torch.nn.Module]] | None = None) -> str | Strategy:
    """Lightning strategy for `strategy.strategy`, with the group's settings."""
    kind = cfg.strategy
    if kind == "auto":
        return "auto"
    if kind in ("ddp", "ddp_spawn"):
        # Frozen parameters need nothing here: DDP only synchronises parameters with requires_grad=True.
        return DDPStrategy(start_method="popen" if kind == "ddp" else "spawn",
                           find_unused_parameters=cfg.find_unused_parameters,
                           process_group_backend=cfg.process_group_backend)
    if kind == "fsdp":
        if not torch.cuda.is_available():
            raise StrategyError("strategy=fsdp needs CUDA GPUs (Lightning's FSDP does not run on CPUs); "
                                "use strategy=ddp here")
        # use_orig_params: frozen and trainable weights may share one wrapped block (frozen layers, LoRA).
        return FSDPStrategy(auto_wrap_policy=wrap_classes or None, sharding_strategy=cfg.sharding_strategy,
                            state_dict_type=cfg.state_dict_type, cpu_offload=cfg.cpu_offload, use_orig_params=True,
                            process_group_backend=cfg.process_group_backend)
    if kind == "deepspeed":
        if importlib.util.find_spec("deepspeed") is None:
            raise StrategyError("strategy=deepspeed needs DeepSpeed (CUDA): pip install -e '.[deepspeed]'")
        return DeepSpeedStrategy(stage=cfg.zero_stage, offload_optimizer=cfg.offload_optimizer,
                                 process_group_backend=cfg.process_group_backend)
    raise StrategyError(f"strategy.strategy={kind!r} is not one of auto, ddp, ddp_spawn, fsdp, deepspeed")


def _hydra_flags(argv: list[str]) -> list[str]:
    """The config-selection flags of a Hydra command line (the overrides are taken from the job itself)."""
    kept: list[str] = []
    for i, arg in enumerate(argv):
        if arg in HYDRA_VALUE_FLAGS and i + 1 < len(argv):
            kept += [arg, argv[i + 1]]
        elif arg.startswith(tuple(f"{flag}=" for flag in HYDRA_VALUE_FLAGS)):
            kept.append(arg)
    return kept


@contextlib.contextmanager
def _command_of_this_job() -> Iterator[None]:
    """While Lightning builds its children's command line: argv = this job's overrides, run.dir = its output dir."""
    hydra = HydraConfig.get()
    saved_argv, saved_dir = sys.argv, hydra.run.dir
    sys.argv = [sys.argv[0], *_hydra_flags(sys.argv[1:]), *hydra.overrides.task, *CHILD_OVERRIDES]
    with read_write(hydra):
        hydra.run.dir = hydra.runtime.output_dir
    try:
        yield
    finally:
        sys.argv = saved_argv
        with read_write(hydra):
            hydra.run.dir = saved_dir


class HydraJobLauncher(_SubprocessScriptLauncher):
    """Lightning's child-process launcher, re-running this Hydra job (not the sweep) in this job's run dir."""

    def _call_children_scripts(self) -> None:
        if not HydraConfig.initialized():
            super()._call_children_scripts()
            return
        with _command_of_this_job():
            super()._call_children_scripts()


def use_hydra_job_launcher(trainer: L.Trainer) -> None:
    """Swap Lightning's subprocess launcher (ddp, fsdp, deepspeed) for HydraJobLauncher."""
    strategy = trainer.strategy
    launcher = getattr(strategy, "_launcher", None)
    if type(launcher) is _SubprocessScriptLauncher:
        strategy._launcher = HydraJobLauncher(launcher.cluster_environment, launcher.num_processes,
                                              launcher.num_nodes)


def _external_world_size(environ: dict[str, str]) -> int:
    """Processes started for this run by torchrun or srun (1 when none)."""
    if "TORCHELASTIC_RUN_ID" in environ and "WORLD_SIZE" in environ:
        return int(environ["WORLD_SIZE"])
    if environ.get("SLURM_NTASKS") and environ.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        return int(environ["SLURM_NTASKS"])
    return 1


def check_shared_run_dir(environ: dict[str, Any] | None = None) -> None:
    """torchrun / srun start every rank with the same command, and each composes its own clock-stamped Hydra
    run dir: require one explicit `hydra.run.dir` so that all ranks write to one place."""
    if not HydraConfig.initialized():
        return
    hydra = HydraConfig.get()
    world = _external_world_size(dict(os.environ if environ is None else environ))
    if hydra.mode == RunMode.MULTIRUN or world <= 1:
        return
    if not any(override.startswith("hydra.run.dir=") for override in hydra.overrides.hydra):
        raise StrategyError(
            f"{world} processes were started by torchrun/srun and each would create its own time-stamped run dir: "
            "pass the same one to all, e.g. hydra.run.dir=outputs/ddp_${SLURM_JOB_ID} (SLURM) or "
            "hydra.run.dir=outputs/my_run (torchrun)")


def quiet_non_zero_ranks() -> None:
    """Ranks > 0 log to the console only: one log file per run, written by rank 0."""
    if rank_zero_only.rank == 0:
        return
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(handler)
        handler.close()
