"""Named evaluation sets: LibriSpeech's four are scored and reported one by one; missing splits are found
before training (training) or skipped and named (evaluation). Issue 18, items 2 and 8."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import datasets
import pytest
from corpus_fixtures import write_librispeech_like

from whisper_exp.config.schema import validate_config
from whisper_exp.data.errors import MissingSplitError
from whisper_exp.run import run_evaluation, run_training

TINY = ["generation.max_new_tokens=4", "logger=csv", "trainer.max_steps=2", "trainer.max_epochs=null",
        "trainer.val_check_interval=2", "trainer.check_val_every_n_epoch=null", "trainer.enable_progress_bar=false",
        "trainer.baseline_eval=true", "export.enabled=false", "trainer.log_every_n_steps=1", "data.batch_size=2",
        "data.eval_batch_size=2"]


@pytest.fixture(autouse=True)
def hf_cache_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets")


def _libri(model: Path, root: Path) -> list[str]:
    return [f"model.checkpoint={model}", "data=librispeech_clean100", f"data.sources.librispeech_clean.path={root}",
            f"data.sources.librispeech_other.path={root}", *TINY]


def test_librispeech_reports_four_sets_separately(compose_config, random_whisper_dir: Path, tmp_path: Path) -> None:
    root = write_librispeech_like(tmp_path / "librispeech")
    cfg = compose_config(*_libri(random_whisper_dir, root))
    data = validate_config(cfg).data
    assert data.validation_sets == ["dev-clean", "dev-other"] and data.test_sets == ["test-clean", "test-other"]
    run_training(cfg)
    run_dir = Path(cfg.paths.output_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["wer_by_set"]) == {"test-clean", "test-other"}
    assert summary["wer"] == summary["wer_by_set"]["test-clean"]  # the primary set keeps the old keys
    assert set(summary["baseline_wer_by_set"]) == {"dev-clean", "dev-other"}
    assert summary["baseline_wer"] == summary["baseline_wer_by_set"]["dev-clean"]
    assert summary["test_utterances"] == 2  # test-clean alone, not clean + other
    with next(run_dir.rglob("metrics.csv")).open() as handle:
        columns = set(next(csv.reader(handle)))
    assert {"val/dev-clean/wer", "val/dev-other/wer", "test/test-clean/wer", "test/test-other/wer",
            "val/wer", "test/wer"} <= columns


def test_a_missing_test_split_fails_before_training(compose_config, random_whisper_dir: Path, demo_subset: Path,
                                                    tmp_path: Path) -> None:
    corpus = tmp_path / "no_test"
    shutil.copytree(demo_subset, corpus)
    rows = list(csv.DictReader((corpus / "metadata.csv").open()))
    with (corpus / "metadata.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["split"] != "test")
    cfg = compose_config(f"model.checkpoint={random_whisper_dir}", "data=local", f"data.path={corpus}", *TINY)
    with pytest.raises(MissingSplitError, match=r"lacks the split\(s\) \['test'\].*before training"):
        run_training(cfg)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["status"] == "failed" and "global_steps" not in summary  # no step was trained


def test_evaluate_scores_a_test_only_folder(compose_config, random_whisper_dir: Path, demo_subset: Path,
                                            tmp_path: Path) -> None:
    corpus = tmp_path / "test_only"
    (corpus / "test").mkdir(parents=True)
    rows = [r for r in csv.DictReader((demo_subset / "metadata.csv").open()) if r["split"] == "test"]
    with (corpus / "metadata.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file_name", "transcription"])
        writer.writeheader()
        for row in rows:
            shutil.copy(demo_subset / row["file_name"], corpus / row["file_name"])
            writer.writerow({"file_name": row["file_name"], "transcription": row["transcription"]})
    cfg = compose_config(f"model.checkpoint={random_whisper_dir}", "data=local", f"data.path={corpus}", *TINY,
                         config_name="evaluate")
    summary = run_evaluation(cfg)
    assert summary["scored_sets"] == ["test"] and summary["missing_sets"] == ["validation"]
    assert summary["val_wer"] is None and summary["test_utterances"] == 4 and summary["wer"] is not None
