"""Strategies from the strategy group, Lightning's cluster environments (torchrun, SLURM), the Hydra-aware child
launcher, and the hydra/launcher and hparams_search configs."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment
from lightning.pytorch.strategies import DDPStrategy
from omegaconf import open_dict

from whisper_exp.__main__ import CONFIG_DIR
from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import ConfigError, StrategyConfig, validate_config
from whisper_exp.training import strategy as strategy_module
from whisper_exp.training.checkpoints import AtomicCheckpointIO
from whisper_exp.training.strategy import (
    HydraJobLauncher,
    StrategyError,
    build_strategy,
    check_shared_run_dir,
    layer_classes,
)
from whisper_exp.training.trainer import build_trainer

STRATEGY_DIR = Path(CONFIG_DIR) / "strategy"
STRATEGIES = sorted(p.stem for p in STRATEGY_DIR.glob("*.yaml"))


def _strategy(**overrides: object) -> StrategyConfig:
    """strategy=auto's values (conf/strategy/auto.yaml, their one source), with `overrides`."""
    return typed_defaults(StrategyConfig, **overrides)


@pytest.fixture
def compose_hydra(tmp_path: Path, cache_dir: Path):
    """compose(*overrides) → the real config with its `hydra` node (launcher, sweeper, overrides)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        def _compose(*overrides: str):
            base = [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={cache_dir}"]
            return compose(config_name="config", overrides=[*base, *overrides], return_hydra_config=True)

        yield _compose
    GlobalHydra.instance().clear()


def test_all_strategy_presets_exist_and_validate(compose_config) -> None:
    assert STRATEGIES == ["auto", "ddp", "ddp_spawn", "deepspeed", "fsdp"]
    for name in STRATEGIES:
        run = validate_config(compose_config(f"strategy={name}"))
        assert run.strategy.name == name == run.strategy.strategy


def test_bad_precision_and_strategy_are_rejected(compose_config) -> None:
    with pytest.raises(ConfigError, match=r"trainer\.precision='fp8'"):
        validate_config(compose_config("trainer.precision=fp8"))
    with pytest.raises(ConfigError, match=r"strategy\.strategy='horovod'"):
        validate_config(compose_config("strategy.strategy=horovod"))


def test_ddp_and_ddp_spawn_build_lightning_ddp() -> None:
    ddp = build_strategy(_strategy(strategy="ddp", find_unused_parameters=True, process_group_backend="gloo"))
    assert isinstance(ddp, DDPStrategy) and ddp._start_method == "popen"
    assert ddp._ddp_kwargs == {"find_unused_parameters": True}
    assert ddp.process_group_backend == "gloo"
    spawn = build_strategy(_strategy(strategy="ddp_spawn"))
    assert isinstance(spawn, DDPStrategy) and spawn._start_method == "spawn"
    assert build_strategy(_strategy()) == "auto"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_fsdp_and_deepspeed_refuse_clearly_without_their_requirements() -> None:
    with pytest.raises(StrategyError, match="fsdp needs CUDA GPUs.*strategy=ddp"):
        build_strategy(_strategy(strategy="fsdp"))
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        with pytest.raises(StrategyError, match=r"pip install -e '\.\[deepspeed\]'"):
            build_strategy(_strategy(strategy="deepspeed"))


def test_fsdp_wraps_each_whisper_block(random_whisper_dir: Path) -> None:
    from transformers import WhisperForConditionalGeneration

    model = WhisperForConditionalGeneration.from_pretrained(random_whisper_dir)
    assert {cls.__name__ for cls in layer_classes(model)} == {"WhisperEncoderLayer", "WhisperDecoderLayer"}
    assert not [name for name, buffer in model.named_buffers() if buffer.is_sparse]  # nothing DDP cannot broadcast


TORCHRUN_ENV = {"TORCHELASTIC_RUN_ID": "abc", "RANK": "3", "LOCAL_RANK": "1", "GROUP_RANK": "1", "WORLD_SIZE": "4",
                "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "node0", "MASTER_PORT": "29500"}
SLURM_ENV = {"SLURM_NTASKS": "4", "SLURM_NTASKS_PER_NODE": "2", "SLURM_PROCID": "2", "SLURM_LOCALID": "0",
             "SLURM_NODEID": "1", "SLURM_JOB_NAME": "whisper", "SLURM_JOB_ID": "77", "SLURM_NODELIST": "node[0-1]"}


@pytest.mark.parametrize(("environ", "environment", "rank"), [(TORCHRUN_ENV, TorchElasticEnvironment, 3),
                                                               (SLURM_ENV, SLURMEnvironment, 2)])
def test_torchrun_and_slurm_ranks_are_read_from_their_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                  compose_config, environ: dict[str, str],
                                                                  environment: type, rank: int) -> None:
    for key in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "NODE_RANK"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    run = validate_config(compose_config("strategy=ddp", "strategy.accelerator=cpu", "strategy.devices=2",
                                         "strategy.num_nodes=2", "logger=none"))
    trainer = build_trainer(run.trainer, run.strategy, tmp_path, None)
    env = trainer.strategy.cluster_environment
    assert isinstance(env, environment)
    assert env.creates_processes_externally  # no child processes: torchrun / srun started them
    assert (trainer.global_rank, trainer.world_size, trainer.num_nodes) == (rank, 4, 2)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


@pytest.fixture
def hydra_job(compose_hydra):
    """Make compose()'s hydra config the current HydraConfig (as inside a running job); cleared afterwards."""
    def _set(*overrides: str, mode: RunMode = RunMode.RUN, output_dir: str = "/runs/job"):
        cfg = compose_hydra(*overrides)
        with open_dict(cfg):
            cfg.hydra.mode = mode
            cfg.hydra.runtime.output_dir = output_dir
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
        return cfg
    yield _set
    HydraConfig.instance().cfg = None


def test_ranks_started_by_torchrun_or_srun_need_one_explicit_run_dir(hydra_job) -> None:
    hydra_job("seed=1")
    check_shared_run_dir({})  # one process: nothing to check
    with pytest.raises(StrategyError, match=r"hydra\.run\.dir=outputs/my_run"):
        check_shared_run_dir({"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "2"})
    with pytest.raises(StrategyError, match="SLURM_JOB_ID"):
        check_shared_run_dir({"SLURM_NTASKS": "8", "SLURM_JOB_NAME": "train"})
    hydra_job("seed=1", "hydra.run.dir=outputs/my_run")
    check_shared_run_dir({"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "2"})
    hydra_job("seed=1", mode=RunMode.MULTIRUN)  # submitit jobs share the sweep's dir
    check_shared_run_dir({"SLURM_NTASKS": "8", "SLURM_JOB_NAME": "train"})


def test_child_processes_rerun_this_job_not_the_sweep(hydra_job, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lightning builds its children's command from sys.argv and hydra.run.dir; both are this job's meanwhile."""
    hydra_job("optimizer.lr=1e-05", "finetune.frozen_layers=2", mode=RunMode.MULTIRUN,
              output_dir="/sweeps/s/3")
    monkeypatch.setattr(sys, "argv", ["whisper_exp", "-m", "--config-name", "config", "optimizer.lr=1e-5,3e-5",
                                      "finetune.frozen_layers=0,2"])
    seen = {}

    def fake_children(self) -> None:
        seen["argv"] = list(sys.argv)
        seen["run_dir"] = HydraConfig.get().run.dir

    monkeypatch.setattr(strategy_module._SubprocessScriptLauncher, "_call_children_scripts", fake_children)
    launcher = HydraJobLauncher(TorchElasticEnvironment(), 2, 1)
    launcher._call_children_scripts()
    argv = seen["argv"]
    assert argv[:3] == ["whisper_exp", "--config-name", "config"] and "-m" not in argv
    assert argv[-5:] == ["optimizer.lr=1e-05", "finetune.frozen_layers=2", "hydra.mode=RUN",
                         "hydra.job_logging.root.handlers=[console]", "~hydra.job_logging.handlers.file"]
    assert not [arg for arg in argv if "," in arg]  # no sweep lists
    assert seen["run_dir"] == "/sweeps/s/3"
    assert sys.argv[1] == "-m" and HydraConfig.get().run.dir != "/sweeps/s/3"  # restored


def test_ddp_trainers_use_the_hydra_job_launcher(tmp_path: Path, compose_config) -> None:
    run = validate_config(compose_config("strategy=ddp", "strategy.accelerator=cpu", "strategy.devices=2",
                                         "logger=none"))
    trainer = build_trainer(run.trainer, run.strategy, tmp_path, None)
    assert type(trainer.strategy.launcher) is HydraJobLauncher
    assert isinstance(build_trainer(run.trainer, validate_config(compose_config()).strategy, tmp_path, None),
                      L.Trainer)


def test_launcher_configs_compose(compose_hydra) -> None:
    cfg = compose_hydra("hydra/launcher=slurm", "strategy=ddp", "strategy.devices=4", "strategy.num_nodes=2",
                        "hydra.launcher.partition=gpu")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node, launcher.partition) == (2, 4, 4, "gpu")
    basic = compose_hydra("hydra/launcher=local").hydra.launcher
    assert basic._target_ == "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def test_optuna_search_composes_to_minimise_validation_wer(compose_hydra) -> None:
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper  # the plugin imports

    cfg = compose_hydra("hparams_search=whisper_optuna")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith(OptunaSweeper.__name__)
    assert sweeper.direction == "minimize" and cfg.hydra.mode == RunMode.MULTIRUN
    assert set(sweeper.params) == {"optimizer.lr", "finetune.frozen_layers"}
    validate_config(cfg)
