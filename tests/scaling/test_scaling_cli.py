"""`python -m whisper_exp.scaling`: reports, CSVs, valid PNGs, exit codes, argument errors, W&B logging."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from scaling_fakes import write_law_sweep, write_run

from whisper_exp.scaling.__main__ import main
from whisper_exp.scaling.laws import DATA_LAW
from whisper_exp.scaling.plots import DPI, FIGSIZE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = ["--bootstrap", "100", "--wandb-log", "off"]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A 5-size × 2-seed sweep following a known law, one crashed job, and a zero-shot evaluation."""
    root = tmp_path / "multirun"
    write_law_sweep(root / "sweep", DATA_LAW, np.array([0.03, 0.02, 0.5]), sizes=[25, 50, 100, 200, 400],
                    seeds=(1, 2), noise=0.03, rng=np.random.default_rng(0))
    (root / "sweep" / "crashed" / ".hydra").mkdir(parents=True)
    (tmp_path / "zero_shot").mkdir()
    (tmp_path / "zero_shot" / "summary.json").write_text(json.dumps({
        "model": "tiny.en", "data": "demo_sg", "finetune": "full", "train_samples": 0, "val_wer": 0.45,
        "wer": 0.66, "config": {"model": {"checkpoint": None}}}))
    return tmp_path


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert imread(path).shape[:2] == (int(FIGSIZE[1] * DPI), int(FIGSIZE[0] * DPI))


def test_fit_writes_report_tables_and_plot(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = runs / "report"
    code = main([str(runs / "multirun"), str(runs / "zero_shot"), "--predict-hours", "10,100,1000",
                 "--holdout-above", "0.4", "--out", str(out), *FAST])
    printed = capsys.readouterr().out
    assert code == 0
    assert printed.strip().splitlines()[-1] == f"report: {out / 'scaling.md'}"
    assert "fitted data [tiny.en · demo_sg · full]: WER(D) = E + A·D^-α (D in hours) with E = " in printed
    assert "excluded" in printed and "crashed: failed: no summary.json" in printed
    _assert_png(out / "data-tiny.en-demo-sg-full.png")
    fits = pd.read_csv(out / "fits.csv")
    assert list(fits["status"]) == ["fitted"] and fits.loc[0, "points"] == 8 and fits.loc[0, "held_out"] == 2
    assert fits.loc[0, "E_low"] <= fits.loc[0, "E"] <= fits.loc[0, "E_high"]
    assert fits.loc[0, "zero_shot_wer"] == 0.66 and fits.loc[0, "bootstrap_ok"] == 100
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions["size_hours"].round(4)) == [10, 100, 1000, round(400 * 4.8 / 3600, 4)]
    assert predictions["measured_runs"].iloc[-1] == 2
    runs_table = pd.read_csv(out / "runs.csv")
    assert sorted(runs_table["status"].value_counts().items()) == [("excluded", 1), ("used", 10),
                                                                   ("zero-shot reference", 1)]
    report = (out / "scaling.md").read_text()
    assert "## Fitted laws" in report and "![data-tiny.en-demo-sg-full](data-tiny.en-demo-sg-full.png)" in report
    assert "D ×3.75e+03 above largest" in report and "lack-of-fit p = " in report


def test_no_curve_when_nothing_can_be_fitted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i, (size, wer) in enumerate([(25, 0.20), (50, 0.21), (100, 0.22), (200, 0.25)]):
        write_run(tmp_path / "runs" / str(i), wer=wer, train_samples=size)
    code = main([str(tmp_path / "runs"), "--out", str(tmp_path / "out"), *FAST])
    captured = capsys.readouterr()
    assert code == 1
    assert "NOT FITTED data [tiny.en · demo_sg · full]: WER does not decrease with D" in captured.out
    assert "no law was fitted" in captured.err
    assert not list((tmp_path / "out").glob("*.png"))
    assert "WER does not decrease with D" in (tmp_path / "out" / "scaling.md").read_text()


def test_input_and_argument_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "out"), *FAST]) == 2
    assert "missing: no such file or directory" in capsys.readouterr().err
    for args, message in ((["--predict-samples", "1000"], "--predict-samples needs --size-unit samples"),
                          (["--predict-model", "huge"], "unknown model 'huge'"),
                          (["--fit", "curvy"], "unknown fit kind"),
                          (["--predict-hours", "ten"], "expected comma-separated numbers")):
        with pytest.raises(SystemExit) as exited:
            main([str(tmp_path), *args, *FAST])
        assert exited.value.code == 2 and message in capsys.readouterr().err


def test_study_is_logged_to_an_offline_wandb_run(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = runs / "report"
    code = main([str(runs / "multirun"), "--out", str(out), "--bootstrap", "50", "--wandb-log", "offline",
                 "--group", "scaling"])
    assert code == 0
    [run_dir] = (out / "wandb").glob("offline-run-*")
    media_dir = run_dir / "files" / "media"
    media = {path.relative_to(media_dir).parts[:2] for path in media_dir.rglob("*.*")}
    assert ("images", "scaling") in media and ("table", "scaling") in media
    [fits_table] = (media_dir / "table" / "scaling").glob("fits_*.table.json")
    table = json.loads(fits_table.read_text())
    assert "alpha" in table["columns"] and table["data"][0][table["columns"].index("status")] == "fitted"


def test_module_entry_point_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "whisper_exp.scaling", "--help"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and "--predict-model" in done.stdout and "(default: hours)" in done.stdout
