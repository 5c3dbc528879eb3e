"""Collecting runs: local run/multirun trees (failed, unfinished, filtered, zero-shot runs) and W&B runs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scaling_fakes import write_run

from whisper_exp.scaling.collect import CollectError, collect_local, collect_wandb, wandb_filters, wandb_run_summary
from whisper_exp.scaling.records import record_from_summary


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A multirun tree: 2 good runs, a failed one, one without WER, a crashed job, junk, a zero-shot evaluation."""
    root = tmp_path / "multirun" / "2026-11-22" / "10-00-00_train"
    write_run(root / "0", wer=0.20, train_samples=25, seed=1)
    write_run(root / "1", wer=0.12, train_samples=50, seed=1, group="other", tags=("tiny.en", "demo_sg"))
    write_run(root / "2", wer=0.3, train_samples=100, status="failed", error="CUDA out of memory\n  at step 3")
    write_run(root / "3", wer=None, train_samples=200)
    (root / "4" / ".hydra").mkdir(parents=True)
    (root / "5").mkdir()
    (root / "5" / "summary.json").write_text("{not json")
    evaluation = tmp_path / "outputs" / "zero_shot"
    evaluation.mkdir(parents=True)
    (evaluation / "summary.json").write_text(json.dumps({
        "task_name": "evaluate", "model": "tiny.en", "model_params_card": 39_000_000, "data": "demo_sg",
        "finetune": "full", "train_samples": 0, "val_wer": 0.45, "wer": 0.66,
        "config": {"model": {"checkpoint": None}}}))
    return tmp_path


def test_local_tree_sorts_runs_into_used_reference_and_excluded(sweep: Path) -> None:
    collection = collect_local([sweep])
    assert sorted(run.train_samples for run in collection.training) == [25, 50]
    good = next(run for run in collection.training if run.train_samples == 25)
    assert good.test_wer == 0.20 and good.val_wer == pytest.approx(0.19) and good.params == 39_000_000
    assert good.train_hours == pytest.approx(25 * 4.8 / 3600) and good.group == "scaling" and good.seed == 1
    [zero_shot] = collection.zero_shot
    assert zero_shot.test_wer == 0.66 and zero_shot.val_wer == 0.45
    reasons = {Path(item.run_id).name: item.reason for item in collection.excluded}
    assert reasons["2"] == "failed: status 'failed' (CUDA out of memory)"
    assert reasons["3"].startswith("failed: no test WER")
    assert reasons["4"].startswith("failed: no summary.json (the job crashed or is still running")
    assert reasons["5"].startswith("unreadable: ") and "summary.json" in reasons["5"]
    assert collection.exclusion_counts() == {"failed": 3, "unreadable": 1}


def test_overlapping_paths_count_each_run_once(sweep: Path) -> None:
    collection = collect_local([sweep, sweep / "multirun", sweep / "multirun" / "2026-11-22" / "10-00-00_train" / "0"])
    assert len(collection.training) == 2 and len(collection.excluded) == 4


def test_group_and_tag_filters(sweep: Path) -> None:
    by_group = collect_local([sweep / "multirun"], group="scaling")
    assert [run.train_samples for run in by_group.training] == [25]
    assert any(item.reason == "filtered out: group 'other' is not 'scaling'" for item in by_group.excluded)
    by_tag = collect_local([sweep / "multirun"], tags=["full"])
    assert [run.train_samples for run in by_tag.training] == [25]
    assert any(item.reason == "filtered out: lacks tag(s) full" for item in by_tag.excluded)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CollectError, match="no_such_dir: no such file or directory"):
        collect_local([tmp_path / "no_such_dir"])


def test_evaluating_a_fine_tuned_checkpoint_is_not_a_zero_shot_reference() -> None:
    summary = {"model": "tiny.en", "val_wer": 0.05, "wer": 0.04, "config": {"model": {"checkpoint": "/x/best.ckpt"}}}
    assert record_from_summary(summary, "r", "local").reason.startswith("not a training run")  # type: ignore[union-attr]


def test_wandb_filter_requires_group_and_every_tag() -> None:
    assert wandb_filters(None, ()) == {}
    assert wandb_filters("sweep-7", ["tiny.en", "n=50"]) == {
        "$and": [{"tags": {"$in": ["tiny.en"]}}, {"tags": {"$in": ["n=50"]}}, {"group": "sweep-7"}]}


def _wandb_run(name: str, state: str, summary: dict[str, Any], config: dict[str, Any],
               tags: tuple[str, ...] = ("tiny.en",), group: str = "sweep-7") -> SimpleNamespace:
    """The attributes of `wandb.apis.public.Run` that collection reads (W&B itself is not reachable here)."""
    return SimpleNamespace(summary_metrics=summary, config=config, tags=list(tags), group=group, state=state,
                           url=f"https://wandb.ai/me/whisper_exp/runs/{name}", path=["me", "whisper_exp", name])


class _Api:
    """Stands in for `wandb.Api`: returns the given runs and records the query."""

    def __init__(self, runs: list[SimpleNamespace]) -> None:
        self.runs_given, self.queries = runs, []

    def runs(self, path: str, filters: dict[str, Any]) -> list[SimpleNamespace]:
        self.queries.append((path, filters))
        return self.runs_given


def test_wandb_runs_become_records_from_summary_and_config() -> None:
    published = {"wer": 0.1, "best_val_wer": 0.09, "baseline_wer": 0.45, "train_samples": 50, "train_hours": 0.07,
                 "model": "tiny.en", "model_params_card": 39_000_000, "seed": 2, "_runtime": 12.0}
    older = {"test/wer": 0.2, "train_samples": 25, "train_hours": 0.03, "_step": 40}
    older_config = {"model": {"value": {"name": "tiny.en", "params": 39_000_000}}, "seed": {"value": 1},
                    "data": {"value": {"name": "demo_sg"}}}
    api = _Api([_wandb_run("a", "finished", published, {"data": {"name": "demo_sg"}}),
                _wandb_run("b", "finished", older, older_config),
                _wandb_run("c", "crashed", {"train_samples": 100}, {}),
                _wandb_run("d", "running", {"train_samples": 200}, {}),
                _wandb_run("e", "finished", published, {}, group="another-sweep")])
    collection = collect_wandb("me/whisper_exp", group="sweep-7", tags=["tiny.en"], api=api)
    assert api.queries == [("me/whisper_exp", wandb_filters("sweep-7", ["tiny.en"]))]
    first, second = collection.training
    assert (first.test_wer, first.val_wer, first.baseline_val_wer, first.seed) == (0.1, 0.09, 0.45, 2)
    assert first.data == "demo_sg" and first.origin == "wandb" and first.run_id.endswith("/runs/a")
    # An older run without the published keys: test/wer and the config fill in.
    assert (second.test_wer, second.params, second.seed, second.data) == (0.2, 39_000_000, 1, "demo_sg")
    reasons = sorted(item.reason for item in collection.excluded)
    assert reasons == ["failed: status 'crashed'", "filtered out: group 'another-sweep' is not 'sweep-7'",
                       "not finished: status 'running'"]


def test_wandb_listing_errors_name_the_project() -> None:
    class _Broken:
        def runs(self, path: str, filters: dict[str, Any]) -> list[Any]:
            raise ValueError("Could not find project nope")

    with pytest.raises(CollectError, match=r"W&B project 'me/nope': cannot list runs .*wandb login"):
        collect_wandb("me/nope", api=_Broken())


def test_wandb_summary_ignores_private_keys() -> None:
    summary = wandb_run_summary(_wandb_run("a", "finished", {"_step": 3, "wer": 0.1}, {}))
    assert "_step" not in summary and summary["wer"] == 0.1 and "status" not in summary


def _hydra_job(job_dir: Path, overrides: list[str], mode: str = "MULTIRUN") -> Path:
    """The .hydra/ files Hydra writes for a job (the parts sweep_group reads)."""
    (job_dir / ".hydra").mkdir(parents=True)
    (job_dir / ".hydra" / "hydra.yaml").write_text(json.dumps(
        {"hydra": {"mode": mode, "job": {"num": int(job_dir.name)}, "overrides": {"task": overrides}}}))
    group = next((o.split("=", 1)[1] for o in overrides if o.startswith("logger.group=")), "${task_name}")
    (job_dir / ".hydra" / "config.yaml").write_text(json.dumps(
        {"task_name": "train", "logger": {"name": "wandb", "group": group}}))
    return job_dir


def test_local_runs_carry_the_wandb_group_of_their_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "multirun" / "2026-11-22" / "10-00-00_train"
    write_run(_hydra_job(sweep / "0", ["data.train_samples=25"]), wer=0.2, train_samples=25)
    write_run(_hydra_job(sweep / "1", ["logger.group=mine"]), wer=0.1, train_samples=50)
    single = tmp_path / "outputs" / "3"
    write_run(_hydra_job(single, [], mode="RUN"), wer=0.3, train_samples=10)
    groups = {run.train_samples: run.group for run in collect_local([tmp_path]).training}
    # Like tracking.loggers.run_group: the sweep's name, unless logger.group was set on the command line.
    assert groups == {25: "2026-11-22/10-00-00_train", 50: "mine", 10: "scaling"}
    assert [r.train_samples for r in collect_local([tmp_path], group="2026-11-22/10-00-00_train").training] == [25]
