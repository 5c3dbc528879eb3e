"""Export to CTranslate2 and whisper.cpp, reload in faster-whisper / pywhispercpp, and the parity check."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import WhisperConfig, WhisperForConditionalGeneration

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import ConfigError, ExportParityConfig, validate_config
from whisper_exp.export import REPORT_FILE, ExportPlan, export_all, verify_exports
from whisper_exp.export.__main__ import main as export_main
from whisper_exp.export.ggml import GGML_MAGIC, GgmlExportError, openai_name, tensor_ftype, write_ggml
from whisper_exp.export.parity import ParityError
from whisper_exp.models.bundled import bundled_checkpoint
from whisper_exp.transcribe.backends import DecodeOptions, ggml_is_multilingual, load_backend

pytest.importorskip("ctranslate2")
pytest.importorskip("faster_whisper")
pytest.importorskip("pywhispercpp")

# Few clips, few tokens: a random model's transcripts are noise, only their agreement matters.
QUICK_PARITY = typed_defaults(ExportParityConfig, clips=3, max_new_tokens=6, threshold=0.0, threshold_quantized=0.0,
                              max_wer_increase=10.0, encoder_clips=2)


@pytest.fixture(scope="module")
def random_4x_dir(random_whisper_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Whisper with MLP width 4 × d_model, the only width whisper.cpp can hold."""
    path = tmp_path_factory.mktemp("random_4x")
    shutil.copytree(random_whisper_dir, path, dirs_exist_ok=True)
    config = WhisperConfig.from_pretrained(path)
    config.encoder_ffn_dim = config.decoder_ffn_dim = 4 * config.d_model
    torch.manual_seed(0)
    WhisperForConditionalGeneration(config).save_pretrained(path)
    return path


def _header(path: Path) -> tuple[int, ...]:
    with path.open("rb") as handle:
        return struct.unpack("<12i", handle.read(48))


def test_random_whisper_exports_reload_in_each_backend(random_4x_dir: Path, tmp_path: Path) -> None:
    report = export_all(random_4x_dir, tmp_path, ExportPlan(formats=["hf", "ct2", "ggml"], parity=QUICK_PARITY))
    assert json.loads((tmp_path / REPORT_FILE).read_text()) == report
    by_format = {e["format"]: e for e in report["exports"]}
    assert set(by_format) == {"hf", "ct2", "ggml"}
    assert (tmp_path / "hf_model" / "config.json").is_file()
    ct2_dir = tmp_path / "ct2_model"
    assert {"model.bin", "tokenizer.json", "preprocessor_config.json"} <= {p.name for p in ct2_dir.iterdir()}
    # the same weights in float32: the encoders agree to rounding
    assert by_format["ct2"]["parity"]["max_abs_encoder_diff"] < 1e-3
    magic, n_vocab, n_audio_ctx, n_audio_state, *_rest, n_mels, ftype = _header(tmp_path / "ggml-model.bin")
    assert (magic, n_vocab, n_audio_ctx, n_audio_state, n_mels, ftype) == (GGML_MAGIC, 51864, 1500, 64, 80, 1)
    assert not ggml_is_multilingual(tmp_path / "ggml-model.bin")
    audio = np.random.default_rng(0).standard_normal(16_000 * 3).astype(np.float32) * 0.1
    for kind, path in (("ct2", ct2_dir), ("ggml", tmp_path / "ggml-model.bin")):  # each loads in its own engine
        assert isinstance(load_backend(path, kind).transcribe(audio, DecodeOptions(max_new_tokens=4)).text, str)


def test_ggml_refuses_an_mlp_width_whisper_cpp_cannot_hold(random_whisper_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(GgmlExportError, match=r"MLP width 4 × d_model = 256.*encoder 128"):
        write_ggml(random_whisper_dir, tmp_path / "x.bin")
    assert not (tmp_path / "x.bin").exists()


def test_ggml_multilingual_vocabulary(random_4x_dir: Path, tmp_path: Path) -> None:
    """A multilingual model (51865 tokens, the multilingual tokenizer of the bundled base) loads in whisper.cpp as
    multilingual and decodes with a language set."""
    model_dir = tmp_path / "multi"
    shutil.copytree(random_4x_dir, model_dir)
    config = WhisperConfig.from_pretrained(model_dir)
    config.vocab_size = 51865
    WhisperForConditionalGeneration(config).save_pretrained(model_dir)
    shutil.copy(bundled_checkpoint("base").ct2_dir / "tokenizer.json", model_dir / "tokenizer.json")
    report = export_all(model_dir, tmp_path, ExportPlan(formats=["ggml"], verify=False))
    path = Path(report["exports"][0]["path"])
    assert _header(path)[1] == 51865 and ggml_is_multilingual(path)
    audio = np.zeros(16_000, dtype=np.float32)
    backend = load_backend(path)
    assert isinstance(backend.transcribe(audio, DecodeOptions(language="de", max_new_tokens=4)).text, str)


def test_parity_fails_on_a_corrupted_export(random_whisper_dir: Path, tmp_path: Path) -> None:
    corrupted = tmp_path / "corrupted"
    shutil.copytree(random_whisper_dir, corrupted)
    model = WhisperForConditionalGeneration.from_pretrained(corrupted)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("fc2.weight"):
                param.mul_(-3.0)
    model.save_pretrained(corrupted)
    plan = ExportPlan(formats=["ct2"],
                      parity=typed_defaults(ExportParityConfig, clips=3, max_new_tokens=6, threshold=0.9))
    exported = export_all(corrupted, tmp_path / "out", ExportPlan(formats=["ct2"], verify=False))
    with pytest.raises(ParityError, match=r"fails parity.*differing clips: test/sg_test_000"):
        verify_exports(random_whisper_dir, tmp_path / "out", exported["exports"], plan)
    report = json.loads((tmp_path / "out" / REPORT_FILE).read_text())
    parity = report["exports"][0]["parity"]
    assert not parity["passed"] and parity["identical_fraction"] < 0.9 and parity["max_abs_encoder_diff"] > 0.01
    # the same check through the command line: exit status 1, the clips named on stderr
    status = export_main([str(random_whisper_dir), "--to", "ct2", "--out", str(tmp_path / "out"), "--verify-only",
                          "--parity-clips", "3", "--threshold", "0.9"])
    assert status == 1


def test_openai_names_and_tensor_types() -> None:
    assert openai_name("model.decoder.layers.3.encoder_attn.k_proj.weight") == "decoder.blocks.3.cross_attn.key.weight"
    assert openai_name("model.encoder.layers.0.fc2.bias") == "encoder.blocks.0.mlp.2.bias"
    assert openai_name("proj_out.weight") is None
    assert tensor_ftype("encoder.blocks.0.attn.query.weight", 2, "float16") == 1
    assert tensor_ftype("encoder.positional_embedding", 2, "float16") == 0
    assert tensor_ftype("encoder.blocks.0.attn.query.bias", 1, "float16") == 0


def test_config_rejects_unknown_export_format(compose_config) -> None:
    with pytest.raises(ConfigError, match="export.formats"):
        validate_config(compose_config("export.formats=[hf,onnx]"))
    assert validate_config(compose_config("export.formats=[hf,ct2,ggml]")).export.formats == ["hf", "ct2", "ggml"]


@pytest.mark.slow
def test_tiny_en_exports_match_transformers(tiny_en_dir: Path, tmp_path: Path) -> None:
    """The real tiny.en: CTranslate2 float32 transcripts are transformers greedy's; whisper.cpp float16's are close."""
    parity = typed_defaults(ExportParityConfig, clips=5, threshold=1.0, threshold_quantized=0.0, max_wer_increase=0.05)
    plan = ExportPlan(formats=["ct2", "ggml"], parity=parity, threads=1)
    report = export_all(tiny_en_dir, tmp_path, plan)
    ct2, ggml = (entry["parity"] for entry in report["exports"])
    assert ct2["identical_fraction"] == 1.0 and ct2["max_abs_encoder_diff"] < 1e-3  # float32: the same transcripts
    assert ggml["identical_fraction"] >= 0.3 and abs(ggml["wer_delta"]) < 0.05  # float16 weights: close
    assert ct2["reference"]["wer"] < 0.5


@pytest.mark.slow
def test_training_run_ends_with_deployable_exports_and_card(random_4x_dir: Path, demo_subset: Path, compose_config,
                                                             tmp_path: Path) -> None:
    """export.formats in the run config: the run dir gets ct2_model/, ggml-model.bin, export_report.json and the
    card; then the command line exports the run's .ckpt again (the checkpoint path of SOURCE)."""
    from whisper_exp.run import run_training
    from whisper_exp.summary import read_summary

    run_dir = tmp_path / "run"
    overrides = [f"model.checkpoint={random_4x_dir}", "data=local", f"data.path={demo_subset}",
                 "generation.max_new_tokens=4", "logger=csv", "trainer.max_steps=1", "trainer.max_epochs=null",
                 "trainer.val_check_interval=1", "trainer.check_val_every_n_epoch=null", "trainer.limit_val_batches=1",
                 "trainer.limit_test_batches=1", "trainer.enable_progress_bar=false", "trainer.baseline_eval=false",
                 "data.batch_size=2", "data.eval_batch_size=2", "export.formats=[hf,ct2,ggml]",
                 f"export.parity.data_dir={demo_subset}", "export.parity.clips=2", "export.parity.max_new_tokens=4",
                 "export.parity.threshold=0", "export.parity.threshold_quantized=0",
                 "export.parity.max_wer_increase=10"]
    run_training(compose_config(*overrides))
    summary = read_summary(run_dir)
    assert Path(summary["export_report"]).is_file() and Path(summary["model_card"]).name == "README.md"
    assert (run_dir / "ct2_model" / "model.bin").is_file() and (run_dir / "ggml-model.bin").is_file()
    report = json.loads((run_dir / REPORT_FILE).read_text())
    assert [e["format"] for e in report["exports"]] == ["hf", "ct2", "ggml"]
    assert "model-index" in (run_dir / "hf_model" / "README.md").read_text()
    out = tmp_path / "from_ckpt"
    status = export_main([summary["best_checkpoint"], "--to", "ct2", "--out", str(out), "--parity-data",
                          str(demo_subset), "--parity-clips", "2", "--threshold", "0", "--max-wer-increase", "100"])
    assert status == 0 and (out / "hf_model" / "config.json").is_file() and (out / "ct2_model" / "model.bin").is_file()
    assert json.loads((out / REPORT_FILE).read_text())["exports"][0]["parity"]["clips"] == 2
