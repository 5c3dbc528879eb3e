"""The main job end to end through the real entry points: train → summary → checkpoint → export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEMO_DIR, write_audiofolder, write_tone

from whisper_exp.data.audio import AudioRef, load_audio

REQUIRED_SUMMARY_KEYS = {"baseline_wer", "wer", "best_val_wer", "cer", "train_samples", "train_samples_per_s",
                         "wall_s", "params_total", "params_trainable", "model_source", "config"}
FAST = ["logger=csv", "trainer.max_steps=2", "trainer.max_epochs=null", "trainer.val_check_interval=2",
        "trainer.enable_progress_bar=false", "data.batch_size=2", "data.eval_batch_size=4"]


def _run(module: str, *overrides: str, cwd: Path) -> tuple[Path, str]:
    """Run `python -m module overrides…`; return the run dir (printed last) and the output."""
    done = subprocess.run([sys.executable, "-m", module, *overrides], cwd=cwd, capture_output=True, text=True,
                          check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("run dir: "), done.stdout[-2000:]
    return Path(last.removeprefix("run dir: ")), output


@pytest.fixture(scope="module")
def tone_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tones")
    rows = []
    for i, (split, text) in enumerate([("train", "one two"), ("train", "three four"), ("train", "five"),
                                       ("train", "six seven"), ("validation", "eight"), ("validation", "nine"),
                                       ("test", "ten"), ("test", "eleven twelve")]):
        write_tone(root / f"{i}.wav", 1.0 + 0.25 * i, frequency=200 + 50 * i)
        rows.append({"file_name": f"{i}.wav", "transcription": text, "split": split})
    return write_audiofolder(root, rows)


def test_two_step_fit_on_a_tiny_random_whisper(tmp_path: Path, cache_dir: Path, random_whisper_dir: Path,
                                               tone_corpus: Path) -> None:
    run_dir, output = _run("whisper_exp", f"model.checkpoint={random_whisper_dir}", "data=local",
                           f"data.path={tone_corpus}", "generation.max_new_tokens=6", *FAST, cwd=tmp_path)
    assert run_dir.is_relative_to(tmp_path / "outputs")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) >= REQUIRED_SUMMARY_KEYS
    assert summary["train_samples"] == 4 and summary["global_steps"] == 2
    assert summary["train_samples_seen"] == 4 and summary["train_samples_per_s"] > 0
    # Full fine-tuning trains everything except Whisper's fixed sinusoidal encoder positions (1500 × d_model 64).
    assert summary["params_total"] - summary["params_trainable"] == 1500 * 64
    assert summary["params_trainable"] > 1_000_000
    assert summary["model_source"].startswith("local")
    assert summary["config"]["model"]["checkpoint"] == str(random_whisper_dir)
    assert Path(summary["best_checkpoint"]).is_file() and Path(summary["last_checkpoint"]).is_file()
    assert (run_dir / "hf_model" / "model.safetensors").is_file()
    assert "zero-shot baseline" in output

    evaluated, _ = _run("whisper_exp.evaluate", f"model.checkpoint={summary['best_checkpoint']}", "data=local",
                        f"data.path={tone_corpus}", "generation.max_new_tokens=6", "logger=none",
                        "trainer.enable_progress_bar=false", cwd=tmp_path)
    again = json.loads((evaluated / "summary.json").read_text())
    assert again["wer"] == pytest.approx(summary["wer"])
    assert "fine-tuned weights" in again["model_source"]


@pytest.mark.slow
def test_bundled_tiny_en_fit_and_pipeline_transcribe_alike(tmp_path: Path, cache_dir: Path,
                                                           demo_subset: Path) -> None:
    from transformers import pipeline

    run_dir, _ = _run("whisper_exp", "data=local", f"data.path={demo_subset}", *FAST, cwd=tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["model_source"].startswith("bundled:tiny.en")
    assert summary["baseline_wer"] < 0.9 and summary["wer"] < 0.9
    asr = pipeline("automatic-speech-recognition", model=summary["export_dir"], device="cpu")
    for example in summary["examples"]:
        relative = example["id"].split("/", 1)[1]
        audio = load_audio(AudioRef(path=str(demo_subset / relative)), 16_000)
        # The pipeline defaults to 5-beam search; in-framework evaluation is greedy (generation.num_beams=1).
        heard = asr({"raw": audio, "sampling_rate": 16_000}, generate_kwargs={"num_beams": 1})["text"]
        assert heard.strip() == example["prediction"].strip()
    assert len(summary["examples"]) == 4
    assert DEMO_DIR.is_dir()
