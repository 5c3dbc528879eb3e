"""A tiny random WavLM + CTC head through the real run: the loss falls, 8 demo clips are learnt, the summary has
the same fields as Whisper's, and the exported folder transcribes alike in transformers.pipeline."""

from __future__ import annotations

import csv
import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_checkpoint_and_export_evaluate_alike
from transformers import Wav2Vec2Processor, WavLMConfig, WavLMForCTC, WavLMModel, pipeline

from whisper_exp.config.schema import validate_config
from whisper_exp.data.audio import AudioRef, load_audio
from whisper_exp.data.errors import DropCounter
from whisper_exp.data.pipeline import read_split
from whisper_exp.run import run_training
from whisper_exp.scaling.records import RunRecord, record_from_summary

# Small enough to overfit 8 demo clips on 2 CPU cores in well under a minute: 3 convolutions with WavLM's total
# stride (320 samples per frame: 50 frames per second), 2 transformer layers of width 128.
TINY_WAVLM = {
    "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256,
    "conv_dim": (32, 32, 32), "conv_kernel": (10, 4, 8), "conv_stride": (10, 4, 8),
    "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2, "num_buckets": 32,
    "max_bucket_distance": 100, "feat_extract_norm": "layer", "do_stable_layer_norm": True,
}
STEPS = 180
# The same 8 short demo clips (<= 4 s, the first usable ones of the seeded permutation) for training,
# validation and test: validation/test WER is the WER on the training clips.
OVERFIT_8 = [
    "model=wavlm_base_plus_ctc", "data=demo_sg", "finetune=ctc_full", "logger=csv",
    "data.sources.demo_sg.splits={train: train, validation: train, test: train}", "data.max_duration_s=4.0",
    "data.train_samples=8", "data.validation_samples=8", "data.test_samples=8",
    "data.batch_size=8", "data.eval_batch_size=8", "data.group_by_length=true",
    "model.ctc.mask_time_prob=0.0", "model.ctc.do_normalize=true",
    "optimizer.lr=3e-3", "optimizer.warmup_steps=5", "optimizer.scheduler.name=constant_with_warmup",
    f"trainer.max_steps={STEPS}", "trainer.max_epochs=null", f"trainer.val_check_interval={STEPS}",
    "trainer.check_val_every_n_epoch=null", "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
    "trainer.loss_health.enabled=false",
]
REQUIRED_SUMMARY_KEYS = {"baseline_wer", "wer", "best_val_wer", "cer", "wer_ortho", "train_samples", "train_hours",
                         "train_samples_per_s", "wall_s", "params_total", "params_trainable", "params_frozen",
                         "model_source", "lr", "lr_source", "dropped_samples", "examples", "export_dir", "config"}


@pytest.fixture(scope="module")
def tiny_wavlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pretrained-style WavLM folder (encoder only: no CTC head, no tokenizer), like microsoft/wavlm-large."""
    path = tmp_path_factory.mktemp("tiny_wavlm")
    torch.manual_seed(0)
    WavLMModel(WavLMConfig(**TINY_WAVLM)).save_pretrained(path)
    return path


def _losses(run_dir: Path) -> list[float]:
    with next(run_dir.rglob("metrics.csv")).open() as handle:
        return [float(row["train/loss"]) for row in csv.DictReader(handle) if row.get("train/loss")]


@pytest.fixture(scope="module")
def overfit_run(tmp_path_factory: pytest.TempPathFactory, tiny_wavlm_dir: Path, cache_dir: Path,
                request: pytest.FixtureRequest) -> tuple[dict, list[float]]:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from whisper_exp.__main__ import CONFIG_DIR

    run_dir = tmp_path_factory.mktemp("ctc_run")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            f"paths.output_dir={run_dir}", f"paths.cache_dir={cache_dir}", f"model.checkpoint={tiny_wavlm_dir}",
            *OVERFIT_8])
    GlobalHydra.instance().clear()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 0.4 M-parameter model: one thread is fastest, and robust on a busy machine
    try:
        run_training(cfg)
    finally:
        torch.set_num_threads(threads)
    return json.loads((run_dir / "summary.json").read_text()), _losses(run_dir)


@pytest.mark.slow
def test_ctc_loss_falls_and_eight_clips_are_learnt(overfit_run: tuple[dict, list[float]]) -> None:
    summary, losses = overfit_run
    assert len(losses) == STEPS
    # The CTC loss comes down steadily (each block of 36 steps below the one before; through the blank plateau
    # of a random head too) and ends far below the start.
    blocks = [float(np.mean(losses[i:i + 36])) for i in range(0, STEPS, 36)]
    assert all(later < earlier for earlier, later in pairwise(blocks)), blocks
    assert losses[-1] < 0.05 * losses[0], (losses[0], losses[-1])
    # Zero-shot the random head spells nothing; after the fit the 8 training clips are transcribed well.
    assert summary["baseline_wer"] >= 0.9
    assert summary["wer"] < 0.3 and summary["best_val_wer"] < 0.3, summary["examples"]
    assert summary["train_samples"] == 8 and summary["status"] == "completed"


@pytest.mark.slow
def test_summary_has_the_whisper_fields(overfit_run: tuple[dict, list[float]], tiny_wavlm_dir: Path) -> None:
    summary, _ = overfit_run
    assert set(summary) >= REQUIRED_SUMMARY_KEYS
    assert summary["model_source"] == f"local {tiny_wavlm_dir}"
    assert summary["finetune_mode"] == "full"  # ctc_full: the feature encoder trains too
    assert summary["params_frozen"] == 0 and summary["params_trainable"] == summary["params_total"]
    assert summary["config"]["model"]["family"] == "ctc"
    # The scaling study reads it like a Whisper run's.
    record = record_from_summary(summary, "ctc-run", "local")
    assert isinstance(record, RunRecord) and record.kind == "train"
    assert (record.model, record.params, record.train_samples) == ("wavlm_base_plus_ctc", 94_700_000, 8)


@pytest.mark.slow
def test_export_transcribes_alike_in_the_transformers_pipeline(overfit_run: tuple[dict, list[float]],
                                                                compose_config) -> None:
    summary, _ = overfit_run
    export = Path(summary["export_dir"])
    processor = Wav2Vec2Processor.from_pretrained(export)
    assert processor.tokenizer.pad_token == "[PAD]" and processor.tokenizer.word_delimiter_token == "|"
    assert isinstance(WavLMForCTC.from_pretrained(export), WavLMForCTC)
    asr = pipeline("automatic-speech-recognition", model=str(export), device="cpu")
    run = validate_config(compose_config(*OVERFIT_8))
    table = read_split(run.data, "train", DropCounter())
    audio_by_id = dict(zip(table["id"], table["audio"], strict=True))
    for example in summary["examples"]:
        audio = load_audio(AudioRef.from_datasets(audio_by_id[example["id"]]), 16_000)
        assert asr({"raw": audio, "sampling_rate": 16_000})["text"].strip() == example["prediction"]
    assert len(summary["examples"]) == 8


@pytest.mark.slow
def test_checkpoint_and_export_evaluate_alike(overfit_run: tuple[dict, list[float]], compose_config,
                                              tmp_path: Path) -> None:
    """A .ckpt carries its vocabulary; an exported folder its tokenizer: both score what the run scored."""
    summary, _ = overfit_run
    assert_checkpoint_and_export_evaluate_alike(summary, compose_config, OVERFIT_8, tmp_path)
