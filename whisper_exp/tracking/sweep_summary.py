"""The sweep-level record of a Hydra multirun, and its exit status.

`SweepSummary` is a Hydra callback (conf/hydra/default.yaml): when a multirun ends it writes
``<sweep dir>/sweep_summary.json`` — one entry per job: number, run dir, overrides, status
("completed", "failed", "interrupted", or "crashed" when the job left no summary.json) and metric
(best_val_wer, the value sweepers minimise; test wer beside it) — and exits with status 1 when any
job did not complete, so that CI and schedulers see the failure (a failing job is still recorded
and the sweep still runs every other job). The jobs are read from their run dirs, so the record
is the same whatever launcher ran them (local or Slurm). `whisper_exp.scaling` reads the file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from whisper_exp.summary import SUMMARY_NAME

SWEEP_SUMMARY_NAME = "sweep_summary.json"
HYDRA_DIRNAME = ".hydra"
COMPLETED = "completed"
CRASHED = "crashed"
METRIC_KEY = "best_val_wer"


def _job_entry(job_dir: Path) -> dict[str, Any]:
    overrides_file = job_dir / HYDRA_DIRNAME / "overrides.yaml"
    overrides = [str(o) for o in OmegaConf.load(overrides_file)] if overrides_file.is_file() else []
    entry: dict[str, Any] = {"job": int(job_dir.name) if job_dir.name.isdigit() else job_dir.name,
                             "run_dir": str(job_dir), "overrides": overrides}
    summary_file = job_dir / SUMMARY_NAME
    try:
        summary = json.loads(summary_file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        return {**entry, "status": CRASHED, "metric": None, "wer": None,
                "error": f"no readable {SUMMARY_NAME} ({type(err).__name__}): the job crashed; see its log"}
    return {**entry, "status": summary.get("status", CRASHED), "metric": summary.get(METRIC_KEY),
            "wer": summary.get("wer"), "error": summary.get("error")}


def sweep_jobs(sweep_dir: Path) -> list[dict[str, Any]]:
    """One entry per Hydra job dir (a folder holding .hydra/) directly under `sweep_dir`, by job number."""
    dirs = [d for d in sweep_dir.iterdir() if (d / HYDRA_DIRNAME).is_dir()] if sweep_dir.is_dir() else []
    entries = [_job_entry(d) for d in dirs]
    return sorted(entries, key=lambda e: (not isinstance(e["job"], int), e["job"] if isinstance(e["job"], int) else 0,
                                          str(e["job"])))


def write_sweep_summary(sweep_dir: Path) -> dict[str, Any]:
    """Write (and return) SWEEP_DIR/sweep_summary.json."""
    jobs = sweep_jobs(sweep_dir)
    failed = [job for job in jobs if job["status"] != COMPLETED]
    record = {"sweep_dir": str(sweep_dir), "metric": METRIC_KEY, "jobs": jobs, "completed": len(jobs) - len(failed),
              "failed": len(failed)}
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / SWEEP_SUMMARY_NAME).write_text(json.dumps(record, indent=2) + "\n")
    return record


class SweepSummary(Callback):
    """Hydra callback: sweep_summary.json at the end of a multirun, and exit status 1 if a job failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        record = write_sweep_summary(sweep_dir)
        print(f"sweep summary: {sweep_dir / SWEEP_SUMMARY_NAME} ({record['completed']} completed, "
              f"{record['failed']} failed)")
        if record["failed"]:
            for job in record["jobs"]:
                if job["status"] != COMPLETED:
                    print(f"  job {job['job']} {job['status']}: {' '.join(job['overrides'])}: {job['error']}",
                          file=sys.stderr)
            raise SystemExit(1)  # BaseException: Hydra turns callback Exceptions into warnings
