"""A LoRA run end to end: adapter-only checkpoints (restored for the test pass), the PEFT adapter folder, and an
exported model with the adapters merged in that loads without PEFT."""

from __future__ import annotations

from pathlib import Path

import torch
from run_helpers import tiny_run_overrides
from transformers import WhisperForConditionalGeneration

from whisper_exp.run import run_training
from whisper_exp.summary import read_summary


def test_lora_run_keeps_adapter_only_checkpoints_and_exports_a_merged_model(compose_config, random_whisper_dir: Path,
                                                                             demo_subset: Path) -> None:
    cfg = compose_config(*tiny_run_overrides(random_whisper_dir, demo_subset), "finetune=lora", "finetune.lora.r=4",
                         "export.enabled=true", "optimizer.lr=1e-3")
    run_training(cfg)
    run_dir = Path(cfg.paths.output_dir)
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["finetune_mode"] == "lora(r=4,q_proj+v_proj)"

    best = torch.load(summary["best_checkpoint"], map_location="cpu", weights_only=False)
    assert best["state_dict"] and all(".lora_" in key for key in best["state_dict"])
    adapter_weights = sum(t.numel() for t in best["state_dict"].values())
    assert adapter_weights == summary["params_trainable"]
    full_bytes = (random_whisper_dir / "model.safetensors").stat().st_size
    assert summary["checkpoint_bytes"] < full_bytes / 5  # adapters + their optimizer state only
    assert (run_dir / "adapter" / "adapter_config.json").is_file() and summary["adapter_bytes"] < full_bytes / 10

    exported = WhisperForConditionalGeneration.from_pretrained(summary["export_dir"])  # plain transformers
    keys = exported.state_dict().keys()
    assert not [k for k in keys if "lora" in k or "base_layer" in k]
    base = WhisperForConditionalGeneration.from_pretrained(random_whisper_dir)
    q_proj = "model.decoder.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(exported.state_dict()[q_proj], base.state_dict()[q_proj])  # the adapters are in
    k_proj = "model.decoder.layers.0.self_attn.k_proj.weight"
    assert torch.equal(exported.state_dict()[k_proj], base.state_dict()[k_proj])  # untouched where no adapter
