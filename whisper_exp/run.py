"""The flow of one run: config → model → data → task → Trainer → summary.json.

`run_training`: zero-shot validation (baseline), fit (or resume), test with the best checkpoint,
export (LoRA adapters merged in first). A failing job still writes summary.json (status "failed"
and the error); in a Hydra multirun the sweep then goes on with the next job.
`run_evaluation`: validation + test of a checkpoint (or zero-shot) with the same data groups.
Both write RUN_DIR/summary.json (rank 0 only) and print the run dir last.
"""

from __future__ import annotations

import gc
import logging
import os
import platform
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from whisper_exp.config.schema import RunConfig, validate_config
from whisper_exp.data.datamodule import SpeechDataModule
from whisper_exp.data.errors import MissingSplitError
from whisper_exp.data.pipeline import SplitTables
from whisper_exp.evaluation import add_extra_sets, extra_set_changes, summary_fields
from whisper_exp.export import after_training
from whisper_exp.export.card import check_can_push
from whisper_exp.families import Family, get_family
from whisper_exp.families.base import Loaded
from whisper_exp.finetune import FinetuneResult, ParamCounts, apply_finetune, merge_lora, save_adapter, settings_record
from whisper_exp.finetune import load_kwargs as finetune_load_kwargs
from whisper_exp.long_form import long_form_metrics, run_long_form
from whisper_exp.metrics.wer import WerReport
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.summary import RunSummary, write_summary
from whisper_exp.tasks.base import ASRTask
from whisper_exp.tracking.loggers import build_logger, current_sweep, run_tags
from whisper_exp.tracking.wandb_tables import publish_summary
from whisper_exp.training.callbacks import TrainThroughput
from whisper_exp.training.checkpoints import DiskSpaceError, resolve_resume
from whisper_exp.training.compilation import compile_blocks
from whisper_exp.training.hardware import apply_hardware, cpu_info
from whisper_exp.training.health import LossHealthMonitor
from whisper_exp.training.resume import ResumableDataModule
from whisper_exp.training.signals import RunInterrupted
from whisper_exp.training.strategy import check_shared_run_dir, layer_classes, quiet_non_zero_ranks
from whisper_exp.training.trainer import build_trainer, find_callback

log = logging.getLogger(__name__)

# The LoRA adapters alone, in PEFT's format (PeftModel.from_pretrained(base, RUN_DIR/adapter)).
ADAPTER_DIRNAME = "adapter"
TRACEBACK_LINES = 30


@dataclass
class Components:
    """Everything a run needs, built once from the validated config."""

    run: RunConfig
    family: Family
    loaded: Loaded
    counts: ParamCounts
    datamodule: SpeechDataModule
    task: ASRTask
    finetune: FinetuneResult


def _checkpoint_meta(run: RunConfig, loaded: Loaded) -> CheckpointMeta:
    """What every checkpoint records so it can be evaluated alone (models.checkpoint_meta)."""
    return CheckpointMeta(base_weights=loaded.base_path, model_source=loaded.source,
                          lora=settings_record(run.finetune.lora) if run.finetune.lora.enabled else None,
                          family=dict(loaded.meta))


def build_components(run: RunConfig) -> Components:
    """The family of `model.family` loads the model; the finetune preset (and activation checkpointing) is applied;
    data module and task are built from the family's parts."""
    family = get_family(run.model.family)
    add_extra_sets(run.data, run.eval)
    tables = SplitTables(run.data)  # read once: by the family when it needs the transcripts, then by the data
    loaded = family.load(run, lambda: tables.read("train")["text"], finetune_load_kwargs(run.finetune))
    tuned = apply_finetune(loaded.model, run.finetune, layer_map=family.layer_map,
                           gradient_checkpointing=run.trainer.gradient_checkpointing)
    parts = family.data_parts(run, loaded)
    datamodule = SpeechDataModule(run.data, extractor=parts.featurizer, labeller=parts.labeller,
                                  collate=parts.collate, max_label_tokens=parts.max_label_tokens,
                                  cache_dir=run.cache_dir, seed=run.seed, tables=tables,
                                  timed_labeller=parts.timed_labeller)
    task = family.task(run, loaded, tuned, _checkpoint_meta(run, loaded))
    if tuned.adapter is not None and run.finetune.lora.adapter_only_checkpoints:
        task.strict_loading = False  # the frozen base is not in the checkpoints (TrainableOnlyCheckpoints checks)
    if run.trainer.compile:
        compile_blocks(task.model, backend=run.trainer.compile_backend, mode=run.trainer.compile_mode)
    task.eval_sets = {"val": datamodule.validation_sets, "test": datamodule.test_sets}
    task.eval_cfg, task.metadata = run.eval, datamodule.context.metadata
    return Components(run=run, family=family, loaded=loaded, counts=tuned.counts, datamodule=datamodule, task=task,
                      finetune=tuned)


def _environment() -> dict[str, Any]:
    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": L.__version__,
            "cpu_count": os.cpu_count(), **cpu_info().as_dict(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "platform": platform.platform()}


def prepare_hardware(run: RunConfig) -> None:
    """Resolve trainer.precision (auto → what this device runs natively) and set the thread count, in place:
    everything after this point, summary.json included, sees the precision that actually runs."""
    choice = apply_hardware(run.trainer.precision, run.trainer.num_threads, run.strategy.accelerator)
    run.trainer.precision = choice.precision


def _describe_run(summary: RunSummary, parts: Components, cfg: DictConfig) -> RunSummary:
    """What ran (model, data, finetune, counts, LR, environment, config) onto `summary`; called again once the
    data splits are built (training-set size, drops)."""
    run = parts.run
    return summary.update(
        task_name=run.task_name, run_dir=run.output_dir, tags=run.tags, seed=run.seed, model=run.model.name,
        model_source=parts.loaded.source, model_params_card=run.model.params, data=run.data.name,
        finetune=run.finetune.name, finetune_mode=parts.finetune.mode, **parts.counts.as_dict(),
        **parts.datamodule.train_summary(), lr=run.optimizer.lr, lr_source=run.optimizer.lr_source,
        precision=run.trainer.precision, dropped_samples=parts.datamodule.drops.as_dict(),
        environment=_environment(), config=OmegaConf.to_container(cfg, resolve=True))


def _finish_logger(trainer: L.Trainer, exit_code: int = 0) -> None:
    for logger in trainer.loggers:
        experiment_finish = getattr(getattr(logger, "experiment", None), "finish", None)
        if callable(experiment_finish):
            experiment_finish(**({"exit_code": exit_code} if exit_code else {}))


def _output_dir(cfg: DictConfig) -> Path | None:
    """The run dir, even when the config does not validate."""
    try:
        return Path(str(cfg.paths.output_dir))
    except Exception:  # an unresolvable config: fall back on Hydra's runtime dir
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else None


def _plain_config(cfg: DictConfig) -> Any:
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # keep what the user wrote when it does not resolve
        return OmegaConf.to_container(cfg, resolve=False)


def _record_end(cfg: DictConfig, status: str, error: BaseException, started: float, summary: RunSummary) -> None:
    """summary.json of a job that did not complete: status, error, traceback tail and what it had measured."""
    run_dir = _output_dir(cfg)
    if rank_zero_only.rank != 0 or run_dir is None:
        return
    summary.update(status=status, error=f"{type(error).__name__}: {error}",
                   traceback="".join(traceback.format_exception(error)).splitlines()[-TRACEBACK_LINES:],
                   task_name=cfg.get("task_name"), run_dir=str(run_dir), wall_s=time.perf_counter() - started)
    if isinstance(error, RunInterrupted) and error.checkpoint is not None:
        summary.resume_with = f"trainer.resume={error.checkpoint}"
    if isinstance(error, DiskSpaceError):
        summary.resume_command = error.resume
        print(f"resume with: {error.resume}")
    summary.setdefault("config", _plain_config(cfg))
    run_dir.mkdir(parents=True, exist_ok=True)
    write_summary(run_dir, summary)
    print(f"summary ({status}): {run_dir / 'summary.json'}")


def _release_memory() -> None:
    """Between the jobs of a sweep (one process): drop the last job's model and cached GPU blocks."""
    if current_sweep() is None:
        return  # a single run ends with its process
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_training(cfg: DictConfig) -> float | None:
    """Baseline → fit → test (best checkpoint) → export → summary.json. Returns best val WER.

    A failing job records status "failed" and its error in summary.json; inside a Hydra multirun it then
    returns None (Optuna counts the trial as failed) so that the sweep continues; a single run re-raises.
    A signal (checkpoint saved) or Ctrl+C records "interrupted" and always stops.
    """
    started = time.perf_counter()
    summary = RunSummary()  # filled as the run goes: what a failed or interrupted job had measured is kept
    try:
        return _run_training(cfg, started, summary)
    except (RunInterrupted, SIGTERMException, KeyboardInterrupt, SystemExit) as err:
        _record_end(cfg, "interrupted", err, started, summary)
        raise
    except Exception as err:
        _record_end(cfg, "failed", err, started, summary)
        if current_sweep() is None:
            raise
        log.exception("sweep job failed (recorded in its summary.json); the sweep continues")
        return None
    finally:
        _release_memory()


def _run_training(cfg: DictConfig, started: float, summary: RunSummary) -> float | None:
    run = validate_config(cfg)
    prepare_hardware(run)
    if run.export.enabled and run.export.push_to_hub:
        check_can_push()  # before any work: an offline push fails at once and changes nothing
    run_dir = Path(run.output_dir)
    quiet_non_zero_ranks()
    check_shared_run_dir()
    L.seed_everything(run.seed, workers=True)
    resume = resolve_resume(run.trainer.resume, run_dir, run.task_name)
    parts = build_components(run)
    config_dict = OmegaConf.to_container(cfg, resolve=True)
    logger = build_logger(run.logger, run_dir, run_name=run_dir.name,
                          tags=run_tags(run.tags, parts.finetune.mode, run.optimizer.lr),
                          config={**config_dict, **parts.counts.as_dict()},  # type: ignore[dict-item]
                          sweep=current_sweep())
    trainer = build_trainer(run.trainer, run.strategy, run_dir, logger, wrap_classes=layer_classes(parts.task.model),
                            trainable_only_checkpoints=parts.finetune.adapter is not None
                            and run.finetune.lora.adapter_only_checkpoints, lr=run.optimizer.lr)
    _describe_run(summary, parts, cfg)
    check_needed_splits(parts.datamodule)
    exit_code = 1
    try:
        try:
            _train_and_test(parts, trainer, run_dir, resume, summary)
        except Exception:
            # A failed job's summary still says what was built and trained (the splits exist now).
            summary.update(**parts.datamodule.train_summary(), dropped_samples=parts.datamodule.drops.as_dict(),
                           global_steps=trainer.global_step)
            raise
        # What ran again, now that the data splits are built (training-set size, drops).
        _describe_run(summary, parts, cfg).update(status="completed", wall_s=time.perf_counter() - started)
        publish_summary(trainer.loggers, summary)  # W&B run summary: the numbers runs are compared by
        exit_code = 0
    finally:
        _finish_logger(trainer, exit_code)
    if trainer.is_global_zero:
        write_summary(run_dir, summary)
        print(f"summary: {run_dir / 'summary.json'}")
        print(f"run dir: {run_dir}")
    return summary.get("best_val_wer")


def check_needed_splits(datamodule: SpeechDataModule) -> None:
    """Fail before training when a split the run will need (train, every validation and test set) is missing,
    rather than after the fit; to score validation as test, map it: data.sources.<name>.splits.test=<its split>."""
    missing = datamodule.check_splits(["train", *datamodule.validation_sets, *datamodule.test_sets])
    if missing:
        raise MissingSplitError(f"data {datamodule.data.name!r} lacks the split(s) {missing} that this run needs "
                                "(checked before training). Provide them, or point a source's split at existing "
                                "data, e.g. data.sources.<name>.splits.test=validation to score validation as test")


def _by_set(task: ASRTask, prefix: str, names: list[str]) -> dict[str, float]:
    """WER of each named evaluation set ({name: wer}); one unnamed set is reported under its own name."""
    if len(names) <= 1:
        return {name: task.reports[prefix].wer for name in names if prefix in task.reports}
    return {name: task.reports[f"{prefix}/{name}"].wer for name in names if f"{prefix}/{name}" in task.reports}


def _report(task: ASRTask, trainer: L.Trainer, prefix: str) -> WerReport:
    """The task's WER report for `prefix`. Under ddp_spawn the task that scored lived in the spawned processes:
    rebuilt from the metrics Lightning sends back (utterance counts unknown: -1)."""
    if prefix in task.reports:
        return task.reports[prefix]
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    per_source = {name.removeprefix(f"{prefix}/wer_"): value for name, value in metrics.items()
                  if name.startswith(f"{prefix}/wer_") and name != f"{prefix}/wer_ortho"}
    return WerReport(wer=metrics[f"{prefix}/wer"], cer=metrics[f"{prefix}/cer"],
                     wer_ortho=metrics[f"{prefix}/wer_ortho"], n_utterances=-1, n_empty_references=-1,
                     reference_words=-1, per_source=per_source)


def _hallucination(task: ASRTask, kind: str) -> dict[str, dict[str, float]]:
    """The hallucination metrics of the sets of `kind` ("val" or "test") the task scored last, by prefix."""
    return {prefix: found.as_dict() for prefix, found in task.hallucination.items()
            if prefix == kind or prefix.startswith(f"{kind}/")}


def _long_form(parts: Components, trainer: L.Trainer, run_dir: Path) -> dict[str, Any] | None:
    """Long-form evaluation of the task's model (eval.long_form), logged; None when off (or not rank 0)."""
    settings = parts.run.eval
    if not settings.long_form.enabled or not trainer.is_global_zero:
        return None
    model = parts.task.model
    was_training = model.training
    model.eval()
    try:
        numbers = run_long_form(parts.family.long_form_backend(parts.task, parts.loaded), parts.datamodule,
                                parts.task.predictions, parts.task.normaliser, settings, run_dir)
    finally:
        model.train(was_training)
    for logger in trainer.loggers:
        logger.log_metrics(long_form_metrics(numbers), step=trainer.global_step)
        logger.save()
    return numbers


def _best_val_wer(best_score: Any, task: ASRTask, trainer: L.Trainer) -> float | None:
    """The best checkpoint's validation WER, else the last validation's, else None (no validation ran)."""
    if best_score is not None:
        return float(best_score)
    if "val" in task.reports or "val/wer" in trainer.callback_metrics:
        return _report(task, trainer, "val").wer
    log.warning("no validation ran during training (trainer.val_check_interval beyond the last step?): "
                "best_val_wer is null and the test split was scored with the final weights")
    return None


def _train_and_test(parts: Components, trainer: L.Trainer, run_dir: Path, resume: Path | None = None,
                    out: RunSummary | None = None) -> RunSummary:
    """Baseline, fit (from `resume` if given), test, adapters and export; fills and returns `out`."""
    run, task = parts.run, parts.task
    datamodule = ResumableDataModule(parts.datamodule, run.seed)
    out = RunSummary() if out is None else out
    if run.trainer.baseline_eval:
        trainer.validate(task, datamodule=datamodule, verbose=False)
        baseline = _report(task, trainer, "val")
        out.update(baseline_wer=baseline.wer, baseline_cer=baseline.cer, baseline_wer_ortho=baseline.wer_ortho,
                   baseline_wer_by_set=_by_set(task, "val", parts.datamodule.validation_sets),
                   hallucination={f"baseline_{name}": values for name, values in _hallucination(task, "val").items()})
        log.info("zero-shot baseline: validation WER %.4f", baseline.wer)
    trainer.fit(task, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    if resume:
        out.resumed_from = str(resume)
    if run.trainer.loss_health.enabled:
        report = find_callback(trainer, LossHealthMonitor).report  # type: ignore[attr-defined]
        out.loss_health = report.as_dict() if report is not None else None
    throughput = find_callback(trainer, TrainThroughput)
    # Read the checkpoint paths now: restoring a checkpoint for testing restores the callback's old state.
    checkpoints = trainer.checkpoint_callback
    best = getattr(checkpoints, "best_model_path", "") or None
    best_score = getattr(checkpoints, "best_model_score", None)
    last = getattr(checkpoints, "last_model_path", "") or None
    trainer.test(task, datamodule=datamodule, ckpt_path=best, verbose=False)
    report = _report(task, trainer, "test")
    out.update(
        wer=report.wer, cer=report.cer, wer_ortho=report.wer_ortho, test_utterances=report.n_utterances,
        test_empty_references=report.n_empty_references, wer_per_source=report.per_source,
        wer_by_set=_by_set(task, "test", parts.datamodule.test_sets),
        best_val_wer=_best_val_wer(best_score, task, trainer),
        best_checkpoint=best, last_checkpoint=last,
        train_samples_seen=throughput.samples, train_seconds=throughput.seconds,
        train_samples_per_s=throughput.samples_per_second, train_audio_seconds=throughput.audio_seconds,
        first_step_after_s=throughput.first_step_after_s,
        train_audio_s_per_s=throughput.audio_seconds_per_second, global_steps=trainer.global_step,
        examples=task.examples.get("test", []), **task.speed_stats(), **summary_fields(task.breakdowns, "test"),
    )
    long_form = _long_form(parts, trainer, run_dir)
    hallucination = {**out.get("hallucination", {}), **_hallucination(task, "test")}
    if long_form is not None:
        hallucination["long_form"] = long_form["hallucination"]
    out.update(hallucination=hallucination, long_form=long_form)
    if run.eval.extra_sets:
        out.update(extra_sets=extra_set_changes(run.eval, out.get("baseline_wer_by_set", {}), out.wer_by_set))
    if best:  # a file, or a folder for sharded (FSDP sharded, DeepSpeed) checkpoints
        best_path = Path(best)
        files = [best_path] if best_path.is_file() else [f for f in best_path.rglob("*") if f.is_file()]
        out.checkpoint_bytes = sum(f.stat().st_size for f in files)
    adapter = parts.finetune.adapter
    if adapter is not None and trainer.is_global_zero:
        out.adapter_dir = str(run_dir / ADAPTER_DIRNAME)
        out.adapter_bytes = save_adapter(adapter, run_dir / ADAPTER_DIRNAME)
    if run.export.enabled and trainer.is_global_zero:
        model = merge_lora(adapter) if adapter is not None else task.model  # loads without PEFT
        out.export_dir = str(parts.family.export(model, parts.loaded.processor, run_dir / run.export.dirname))
        # Deployable formats, parity report, model card, Hub push (whisper_exp.export).
        out.update(after_training(run.export, run_dir, Path(out.export_dir), out.as_dict()))
    return out


def run_evaluation(cfg: DictConfig) -> dict[str, Any]:
    """Validation and test WER of `model.checkpoint` (or the zero-shot model) → summary.json."""
    started = time.perf_counter()
    run = validate_config(cfg)
    prepare_hardware(run)
    run_dir = Path(run.output_dir)
    L.seed_everything(run.seed, workers=True)
    parts = build_components(run)
    logger = build_logger(run.logger, run_dir, run_name=run_dir.name, tags=run.tags,
                          config=OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
    trainer = build_trainer(run.trainer, run.strategy, run_dir, logger)
    dm = parts.datamodule
    missing = dm.keep_present_sets()  # a test-only folder is scored on its test split, and says so
    parts.task.eval_sets = {"val": dm.validation_sets, "test": dm.test_sets}
    scored = dm.validation_sets + dm.test_sets
    print(f"scoring: {', '.join(scored)}" + (f" (not in the data: {', '.join(missing)})" if missing else ""))
    try:
        if dm.validation_sets:
            trainer.validate(parts.task, datamodule=dm, verbose=False)
        if dm.test_sets:
            trainer.test(parts.task, datamodule=dm, verbose=False)
        long_form = _long_form(parts, trainer, run_dir)
    finally:
        _finish_logger(trainer)
    hallucination = {**_hallucination(parts.task, "val"), **_hallucination(parts.task, "test")}
    if long_form is not None:
        hallucination["long_form"] = long_form["hallucination"]
    val, test = parts.task.reports.get("val"), parts.task.reports.get("test")
    summary = _describe_run(RunSummary(), parts, cfg).update(
        scored_sets=scored, missing_sets=missing,
        val_wer=val.wer if val else None, val_cer=val.cer if val else None,
        val_wer_by_set=_by_set(parts.task, "val", dm.validation_sets),
        wer=test.wer if test else None, cer=test.cer if test else None,
        wer_ortho=test.wer_ortho if test else None, test_utterances=test.n_utterances if test else 0,
        wer_per_source=test.per_source if test else {}, wer_by_set=_by_set(parts.task, "test", dm.test_sets),
        examples=parts.task.examples.get("test", []), **parts.task.speed_stats(),
        **summary_fields(parts.task.breakdowns, "test"), val_breakdown=parts.task.breakdowns.get("val"),
        hallucination=hallucination, long_form=long_form, wall_s=time.perf_counter() - started)
    if trainer.is_global_zero:
        write_summary(run_dir, summary)
        print(f"summary: {run_dir / 'summary.json'}")
        print(f"run dir: {run_dir}")
    return summary.as_dict()
