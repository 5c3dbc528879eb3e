"""The flow of one run: config → model → data → task → Trainer → summary.json.

`run_training`: zero-shot validation (baseline), fit, test with the best checkpoint, export.
`run_evaluation`: validation + test of a checkpoint (or zero-shot) with the same data groups.
Both write RUN_DIR/summary.json and print the run dir last.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from whisper_exp.config.schema import RunConfig, validate_config
from whisper_exp.data.collate import WhisperCollator
from whisper_exp.data.datamodule import SpeechDataModule
from whisper_exp.finetune import ParamCounts, apply_finetune
from whisper_exp.metrics.wer import build_normaliser
from whisper_exp.models.export import export_pretrained
from whisper_exp.models.labels import WhisperLabeller
from whisper_exp.models.loading import LoadedWhisper, load_whisper
from whisper_exp.summary import write_summary
from whisper_exp.tasks.whisper import WhisperTask
from whisper_exp.tracking.loggers import build_logger
from whisper_exp.training.callbacks import TrainThroughput
from whisper_exp.training.trainer import build_trainer, find_callback

log = logging.getLogger(__name__)

ENGLISH_NAMES = ("en", "english")


@dataclass
class Components:
    """Everything a run needs, built once from the validated config."""

    run: RunConfig
    loaded: LoadedWhisper
    counts: ParamCounts
    datamodule: SpeechDataModule
    task: WhisperTask


def normaliser_kind(run: RunConfig) -> str:
    """English normaliser for English models/data, basic otherwise, unless set explicitly."""
    if run.data.text_normaliser != "auto":
        return run.data.text_normaliser
    english = run.model.english_only or (run.model.language or "").lower() in ENGLISH_NAMES
    return "english" if english else "basic"


def enable_gradient_checkpointing(model: torch.nn.Module) -> None:
    """Checkpoint activations; the KV cache is useless then, so use_cache=False (no per-step warning)."""
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False


def build_components(run: RunConfig) -> Components:
    """Load the model, apply the finetune preset, build data and task."""
    loaded = load_whisper(run.model, run.cache_dir)
    counts = apply_finetune(loaded.model, run.finetune)
    if run.trainer.gradient_checkpointing:
        enable_gradient_checkpointing(loaded.model)
    tokenizer = loaded.processor.tokenizer
    labeller = WhisperLabeller(tokenizer, english_only=run.model.english_only, language=run.model.language,
                               task=run.model.task, leading_space=run.data.label_leading_space)
    extractor = loaded.processor.feature_extractor
    if extractor.feature_size != run.model.num_mel_bins:
        log.warning("model.num_mel_bins=%d but the checkpoint's feature extractor uses %d: using the checkpoint's",
                    run.model.num_mel_bins, extractor.feature_size)
    datamodule = SpeechDataModule(
        run.data, extractor=extractor, labeller=labeller, collate=WhisperCollator(extractor.nb_max_frames),
        max_label_tokens=run.model.max_target_positions, cache_dir=run.cache_dir, seed=run.seed)
    normaliser = build_normaliser(normaliser_kind(run), getattr(tokenizer, "english_spelling_normalizer", None))
    task = WhisperTask(loaded.model, tokenizer, optimizer=run.optimizer, generation=run.generation,
                       english_only=run.model.english_only, normaliser=normaliser,
                       checkpoint_meta={"base_weights": loaded.base_path, "model_source": loaded.source})
    return Components(run=run, loaded=loaded, counts=counts, datamodule=datamodule, task=task)


def _environment() -> dict[str, Any]:
    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": L.__version__,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "platform": platform.platform()}


def _base_summary(parts: Components, cfg: DictConfig) -> dict[str, Any]:
    run = parts.run
    train = parts.datamodule.splits.get("train")
    return {
        "task_name": run.task_name, "run_dir": run.output_dir, "tags": run.tags, "seed": run.seed,
        "model": run.model.name, "model_source": parts.loaded.source, "model_params_card": run.model.params,
        "data": run.data.name, "finetune": run.finetune.name, **parts.counts.as_dict(),
        "train_samples": len(train) if train is not None else 0,
        "train_hours": train.audio_seconds() / 3600 if train is not None else 0.0,
        "lr": run.optimizer.lr, "lr_source": run.optimizer.lr_source, "precision": run.trainer.precision,
        "dropped_samples": parts.datamodule.drops.as_dict(), "environment": _environment(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


def _finish_logger(trainer: L.Trainer) -> None:
    for logger in trainer.loggers:
        experiment_finish = getattr(getattr(logger, "experiment", None), "finish", None)
        if callable(experiment_finish):
            experiment_finish()


def run_training(cfg: DictConfig) -> float | None:
    """Baseline → fit → test (best checkpoint) → export → summary.json. Returns best val WER."""
    started = time.perf_counter()
    run = validate_config(cfg)
    run_dir = Path(run.output_dir)
    L.seed_everything(run.seed, workers=True)
    parts = build_components(run)
    config_dict = OmegaConf.to_container(cfg, resolve=True)
    logger = build_logger(run.logger, run_dir, run_name=run_dir.name, tags=run.tags,
                          config={**config_dict, **parts.counts.as_dict()})  # type: ignore[arg-type]
    trainer = build_trainer(run.trainer, run.strategy, run_dir, logger)
    try:
        summary = _train_and_test(parts, trainer, run_dir)
    finally:
        _finish_logger(trainer)
    summary = {**_base_summary(parts, cfg), **summary, "wall_s": time.perf_counter() - started}
    if trainer.is_global_zero:
        write_summary(run_dir, summary)
        print(f"summary: {run_dir / 'summary.json'}")
        print(f"run dir: {run_dir}")
    return summary.get("best_val_wer")


def _train_and_test(parts: Components, trainer: L.Trainer, run_dir: Path) -> dict[str, Any]:
    run, task, datamodule = parts.run, parts.task, parts.datamodule
    out: dict[str, Any] = {}
    if run.trainer.baseline_eval:
        trainer.validate(task, datamodule=datamodule, verbose=False)
        baseline = task.reports["val"]
        out.update(baseline_wer=baseline.wer, baseline_cer=baseline.cer, baseline_wer_ortho=baseline.wer_ortho)
        log.info("zero-shot baseline: validation WER %.4f", baseline.wer)
    trainer.fit(task, datamodule=datamodule)
    throughput = find_callback(trainer, TrainThroughput)
    # Read the checkpoint paths now: restoring a checkpoint for testing restores the callback's old state.
    checkpoints = trainer.checkpoint_callback
    best = getattr(checkpoints, "best_model_path", "") or None
    best_score = getattr(checkpoints, "best_model_score", None)
    last = getattr(checkpoints, "last_model_path", "") or None
    trainer.test(task, datamodule=datamodule, ckpt_path=best, verbose=False)
    report = task.reports["test"]
    out.update(
        wer=report.wer, cer=report.cer, wer_ortho=report.wer_ortho, test_utterances=report.n_utterances,
        test_empty_references=report.n_empty_references, wer_per_source=report.per_source,
        best_val_wer=float(best_score) if best_score is not None else task.reports["val"].wer,
        best_checkpoint=best, last_checkpoint=last,
        train_samples_seen=throughput.samples, train_seconds=throughput.seconds,
        train_samples_per_s=throughput.samples_per_second, global_steps=trainer.global_step,
        examples=task.examples.get("test", []),
    )
    if run.export.enabled and trainer.is_global_zero:
        out["export_dir"] = str(export_pretrained(task.model, parts.loaded.processor, run_dir / run.export.dirname))
    return out


def run_evaluation(cfg: DictConfig) -> dict[str, Any]:
    """Validation and test WER of `model.checkpoint` (or the zero-shot model) → summary.json."""
    started = time.perf_counter()
    run = validate_config(cfg)
    run_dir = Path(run.output_dir)
    L.seed_everything(run.seed, workers=True)
    parts = build_components(run)
    logger = build_logger(run.logger, run_dir, run_name=run_dir.name, tags=run.tags,
                          config=OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
    trainer = build_trainer(run.trainer, run.strategy, run_dir, logger)
    try:
        trainer.validate(parts.task, datamodule=parts.datamodule, verbose=False)
        trainer.test(parts.task, datamodule=parts.datamodule, verbose=False)
    finally:
        _finish_logger(trainer)
    val, test = parts.task.reports["val"], parts.task.reports["test"]
    summary = {
        **_base_summary(parts, cfg), "val_wer": val.wer, "val_cer": val.cer, "wer": test.wer, "cer": test.cer,
        "wer_ortho": test.wer_ortho, "test_utterances": test.n_utterances, "wer_per_source": test.per_source,
        "examples": parts.task.examples.get("test", []), "wall_s": time.perf_counter() - started,
    }
    if trainer.is_global_zero:
        write_summary(run_dir, summary)
        print(f"summary: {run_dir / 'summary.json'}")
        print(f"run dir: {run_dir}")
    return summary
