"""Gather run summaries: from local run/multirun dirs (summary.json files) or a W&B project (public API).

Local: every `summary.json` under the given paths, plus every Hydra job dir (one with `.hydra/`)
that has none — a job that crashed or is still running, reported as failed (with the reason its sweep's
sweep_summary.json gives, when there is one). A sweep_summary.json given as a path stands for its
jobs' run dirs. A local run's group is
the W&B group it logged to (the sweep's name for multirun jobs, by the training logger's rule). W&B: the project's runs
filtered server-side by group and tags, read from their run summary (the keys `publish_summary`
writes; see `whisper_exp.tracking.wandb_tables`), with the run config as a fallback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from whisper_exp.scaling.records import Collection, Excluded, dig, filter_reason, record_from_summary, run_group
from whisper_exp.summary import SUMMARY_NAME
from whisper_exp.tracking.sweep_summary import SWEEP_SUMMARY_NAME

HYDRA_DIRNAME = ".hydra"
# Summary keys that may be missing from a W&B run summary, and where its config holds them.
WANDB_CONFIG_FALLBACKS = {"model": "model.name", "model_params_card": "model.params", "data": "data.name",
                          "finetune": "finetune.name", "seed": "seed", "task_name": "task_name"}


class CollectError(ValueError):
    """A path or W&B project to collect from does not exist or cannot be read."""


def _sweep_record(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CollectError(f"{path}: unreadable sweep summary: {error}") from error


def _orphan_reason(job_dir: Path) -> str:
    """Why a job dir has no summary.json: its sweep's sweep_summary.json entry, else the generic reason."""
    sweep_file = job_dir.parent / SWEEP_SUMMARY_NAME
    if sweep_file.is_file():
        for job in _sweep_record(sweep_file).get("jobs", []):
            if Path(str(job.get("run_dir"))).resolve() == job_dir.resolve():
                return f"{job.get('status')}: {job.get('error')}"
    return "failed: no summary.json (the job crashed or is still running; see its log)"


def _summary_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(summary.json files, Hydra job dirs without one) under `root`."""
    if root.is_file() and root.name == SWEEP_SUMMARY_NAME:
        run_dirs = [Path(str(job["run_dir"])) for job in _sweep_record(root).get("jobs", [])]
        return ([d / SUMMARY_NAME for d in run_dirs if (d / SUMMARY_NAME).is_file()],
                [d for d in run_dirs if not (d / SUMMARY_NAME).is_file()])
    if root.is_file():
        return [root], []
    summaries = sorted(root.rglob(SUMMARY_NAME))
    with_summary = {path.parent for path in summaries}
    orphans = sorted(hydra.parent for hydra in root.rglob(HYDRA_DIRNAME)
                     if hydra.is_dir() and hydra.parent not in with_summary)
    return summaries, orphans


def collect_local(paths: Sequence[Path], group: str | None = None, tags: Iterable[str] = ()) -> Collection:
    """Runs under `paths` (run dirs, sweep dirs, or any folder above them; or summary.json files)."""
    tags = tuple(tags)
    collection = Collection()
    seen: set[Path] = set()
    for root in paths:
        if not root.exists():
            raise CollectError(f"{root}: no such file or directory (give run dirs, multirun sweep dirs or a folder "
                               "above them)")
        summaries, orphans = _summary_files(root)
        for job_dir in orphans:
            if job_dir.resolve() not in seen:
                seen.add(job_dir.resolve())
                collection.add(Excluded(str(job_dir), "local", _orphan_reason(job_dir)))
        for path in summaries:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            run_id = str(path.parent)
            try:
                summary = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as error:
                collection.add(Excluded(run_id, "local", f"unreadable: {path}: {error}"))
                continue
            if "group" not in summary:
                summary["group"] = sweep_group(path.parent) or run_group(summary)
            reason = filter_reason(summary, group, tags)
            collection.add(Excluded(run_id, "local", reason) if reason else
                           record_from_summary(summary, run_id, "local"))
    return collection


def sweep_group(job_dir: Path) -> str | None:
    """The W&B group a Hydra multirun job logged to (the sweep's name unless logger.group was overridden).

    Read from the job's .hydra/ files with the training logger's own rule, so local and W&B filters agree.
    None for single runs and dirs without Hydra files.
    """
    hydra_file, config_file = job_dir / HYDRA_DIRNAME / "hydra.yaml", job_dir / HYDRA_DIRNAME / "config.yaml"
    if not (hydra_file.is_file() and config_file.is_file()):
        return None
    hydra = OmegaConf.load(hydra_file).hydra
    if str(hydra.get("mode")) != "MULTIRUN":
        return None
    from whisper_exp.config.defaults import typed_defaults  # the logger group's rule lives with the logger
    from whisper_exp.config.schema import LoggerConfig
    from whisper_exp.tracking.loggers import SweepJob
    from whisper_exp.tracking.loggers import run_group as logger_group

    try:
        configured = OmegaConf.load(config_file).logger.get("group")
    except OmegaConfBaseException:  # no logger group, or one interpolating what only a live Hydra run knows
        configured = None
    job = SweepJob(sweep_dir=str(job_dir.resolve().parent), number=int(hydra.job.get("num", 0)),
                   overrides=tuple(hydra.overrides.task))
    return logger_group(typed_defaults(LoggerConfig, group=configured), job)


def wandb_filters(group: str | None, tags: Iterable[str]) -> dict[str, Any]:
    """The W&B public-API filter (MongoDB syntax) for runs in `group` carrying every tag in `tags`."""
    clauses: list[dict[str, Any]] = [{"tags": {"$in": [tag]}} for tag in tags]
    if group is not None:
        clauses.append({"group": group})
    return {"$and": clauses} if clauses else {}


def _unwrap(value: Any) -> Any:
    """W&B config values may come as {"value": …, "desc": …}."""
    return value["value"] if isinstance(value, Mapping) and set(value) <= {"value", "desc"} and "value" in value \
        else value


def wandb_run_summary(run: Any) -> dict[str, Any]:
    """A summary.json-shaped dict from a W&B public-API Run (summary metrics, config fallbacks, state)."""
    summary = {key: value for key, value in dict(run.summary_metrics).items() if not key.startswith("_")}
    config = {key: _unwrap(value) for key, value in dict(run.config).items()}
    for key, dotted in WANDB_CONFIG_FALLBACKS.items():
        if summary.get(key) is None and dig(config, dotted) is not None:
            summary[key] = dig(config, dotted)
    if summary.get("wer") is None and summary.get("test/wer") is not None:
        summary["wer"] = summary["test/wer"]
    summary["config"] = config
    summary["tags"] = list(run.tags or [])
    summary["group"] = run.group
    state = str(run.state).lower()
    if state != "finished":
        summary["status"] = "running" if state == "running" else state
    return summary


def collect_wandb(project: str, group: str | None = None, tags: Iterable[str] = (), api: Any = None) -> Collection:
    """Runs of W&B `project` ("entity/project") filtered by group and tags, via the public API."""
    tags = tuple(tags)
    if api is None:
        import wandb

        api = wandb.Api()
    try:
        runs = list(api.runs(project, filters=wandb_filters(group, tags)))
    except Exception as error:  # the client raises several types (network, auth, missing project)
        raise CollectError(f"W&B project {project!r}: cannot list runs ({type(error).__name__}: {error}). "
                           "Check the entity/project name and `wandb login`.") from error
    collection = Collection()
    for run in runs:
        run_id = getattr(run, "url", None) or "/".join(run.path)
        summary = wandb_run_summary(run)
        # The server applied the filter already; checking again keeps the result right with any backend.
        reason = filter_reason(summary, group, tags)
        collection.add(Excluded(run_id, "wandb", reason) if reason else record_from_summary(summary, run_id, "wandb"))
    return collection
