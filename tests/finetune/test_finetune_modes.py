"""Every finetune mode on a tiny random Whisper: exact trainable counts (computed from the config's dimensions,
not from the code under test), activation checkpointing only where gradients flow, LoRA merge and reload."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
import torch
from transformers import WhisperConfig, WhisperForConditionalGeneration

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import ConfigError, FinetuneConfig, LoraSettings, validate_config
from whisper_exp.families.whisper import WHISPER_LAYERS
from whisper_exp.finetune import (
    FinetuneError,
    add_lora,
    apply_finetune,
    count_parameters,
    describe_finetune,
    load_kwargs,
    merge_lora,
    settings_record,
)
from whisper_exp.finetune.freezing import resolve_frozen_layers
from whisper_exp.finetune.lora import load_merged
from whisper_exp.models.loading import load_whisper


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def attention(d: int) -> int:
    return linear(d, d) + linear(d, d, bias=False) + linear(d, d) + linear(d, d)  # q, k (no bias), v, out


def expected_counts(c: WhisperConfig) -> dict[str, int]:
    """Parameter counts of a Whisper by part, from its config alone."""
    d, norm = c.d_model, 2 * c.d_model
    enc_layer = attention(d) + norm + linear(d, c.encoder_ffn_dim) + linear(c.encoder_ffn_dim, d) + norm
    dec_layer = 2 * attention(d) + 3 * norm + linear(d, c.decoder_ffn_dim) + linear(c.decoder_ffn_dim, d)
    stem = linear(c.num_mel_bins * 3, d) + linear(d * 3, d)  # conv1, conv2 (kernel 3)
    positions = c.max_source_positions * d  # fixed sinusoids: frozen by the checkpoint itself
    encoder = stem + positions + c.encoder_layers * enc_layer + norm
    decoder = c.vocab_size * d + c.max_target_positions * d + c.decoder_layers * dec_layer + norm  # proj_out tied
    return {"enc_layer": enc_layer, "stem": stem, "positions": positions, "encoder": encoder, "decoder": decoder,
            "total": encoder + decoder}


@pytest.fixture
def model(random_whisper_dir: Path) -> WhisperForConditionalGeneration:
    return WhisperForConditionalGeneration.from_pretrained(random_whisper_dir).train()


def ft(**kwargs) -> FinetuneConfig:
    """finetune=full's values (conf/finetune/full.yaml, their one source), with `kwargs`."""
    return typed_defaults(FinetuneConfig, **kwargs)


def test_counts_per_mode_match_the_config_dimensions(random_whisper_dir: Path) -> None:
    config = WhisperConfig.from_pretrained(random_whisper_dir)
    n = expected_counts(config)
    frozen_by_checkpoint = n["positions"]
    expected_trainable = {
        "full": n["total"] - frozen_by_checkpoint,
        "frozen_layers=1": n["total"] - frozen_by_checkpoint - n["stem"] - n["enc_layer"],
        "freeze_encoder": n["decoder"],
        "frozen_layers=2 (= all)": n["decoder"],
        "freeze_decoder": n["encoder"] - frozen_by_checkpoint,
    }
    presets = {"full": ft(), "frozen_layers=1": ft(frozen_layers=1), "freeze_encoder": ft(frozen_layers="all"),
               "frozen_layers=2 (= all)": ft(frozen_layers=2), "freeze_decoder": ft(freeze_decoder=True)}
    for label, preset in presets.items():
        result = apply_finetune(WhisperForConditionalGeneration.from_pretrained(random_whisper_dir), preset,
                                layer_map=WHISPER_LAYERS)
        assert result.counts.total == n["total"], label
        assert result.counts.trainable == expected_trainable[label], label
        assert result.counts.frozen == n["total"] - expected_trainable[label], label
        assert result.adapter is None


@pytest.mark.parametrize("targets", [["q_proj", "v_proj"], "all-linear"])
def test_lora_trains_exactly_the_adapters(random_whisper_dir: Path, targets) -> None:
    config = WhisperConfig.from_pretrained(random_whisper_dir)
    r, d = 4, config.d_model
    if targets == "all-linear":  # every linear layer but the (tied) output projection
        per_enc = 4 * r * 2 * d + r * (d + config.encoder_ffn_dim) * 2
        per_dec = 8 * r * 2 * d + r * (d + config.decoder_ffn_dim) * 2
    else:  # q and v of every attention: encoder self, decoder self and cross
        per_enc, per_dec = 2 * r * 2 * d, 4 * r * 2 * d
    adapters = config.encoder_layers * per_enc + config.decoder_layers * per_dec
    model = WhisperForConditionalGeneration.from_pretrained(random_whisper_dir)
    result = apply_finetune(model, ft(name="lora", lora=typed_defaults(LoraSettings, enabled=True, r=r, alpha=8,
                                                                       target_modules=targets)),
                            layer_map=WHISPER_LAYERS)
    assert result.counts.trainable == adapters
    assert result.counts.total == expected_counts(config)["total"] + adapters
    assert result.adapter is not None and result.adapter.get_base_model() is model  # injected in place
    assert all(".lora_" in name for name, p in model.named_parameters() if p.requires_grad)


def test_frozen_layers_beyond_the_encoder_and_nothing_left_to_train_fail_clearly(model) -> None:
    with pytest.raises(FinetuneError, match=r"frozen_layers=5 but this encoder has 2 layers"):
        apply_finetune(model, ft(frozen_layers=5), layer_map=WHISPER_LAYERS)
    with pytest.raises(FinetuneError, match="no trainable parameter"):
        apply_finetune(model, ft(frozen_layers="all", freeze_decoder=True), layer_map=WHISPER_LAYERS)


def test_checkpointing_recomputes_only_layers_that_train(model) -> None:
    """frozen_layers=1: encoder layer 0 runs once, layer 1 (trainable) runs again in the backward pass."""
    apply_finetune(model, ft(frozen_layers=1), layer_map=WHISPER_LAYERS, gradient_checkpointing=True)
    calls = {0: 0, 1: 0}
    for index in calls:
        def count(*_, index=index) -> None:
            calls[index] += 1
        model.model.encoder.layers[index].self_attn.register_forward_hook(count)
    features = torch.randn(2, 80, 3000)
    labels = torch.tensor([[50257, 100, 200, 50256], [50257, 300, 50256, -100]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation or cache warning either
        loss = model(input_features=features, labels=labels).loss
        loss.backward()
    assert calls == {0: 1, 1: 2}
    assert model.config.use_cache is False
    assert model.model.encoder.layers[1].self_attn.q_proj.weight.grad is not None
    assert model.model.encoder.layers[0].self_attn.q_proj.weight.grad is None


def test_checkpointing_with_cache_off_logs_no_warning(model, caplog: pytest.LogCaptureFixture) -> None:
    apply_finetune(model, ft(), layer_map=WHISPER_LAYERS, gradient_checkpointing=True)
    with caplog.at_level(logging.WARNING):
        model(input_features=torch.randn(1, 80, 3000), labels=torch.tensor([[50257, 7, 50256]])).loss.backward()
    assert not [r for r in caplog.records if "cache" in r.getMessage().lower()]


def _logits(model: torch.nn.Module, features: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_features=features, decoder_input_ids=torch.tensor([[50257, 11, 12]])).logits


def test_lora_merges_into_a_plain_model_that_loads_without_peft(model, tmp_path: Path) -> None:
    adapter = add_lora(model, typed_defaults(LoraSettings, enabled=True, r=4, alpha=8, dropout=0.0))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)  # non-zero adapters, so merging changes the base weights
    model.eval()
    features = torch.randn(1, 80, 3000)
    adapted = _logits(model, features)
    merged = merge_lora(adapter)
    assert not [k for k in merged.state_dict() if "lora" in k or "base_layer" in k]
    torch.testing.assert_close(_logits(merged, features), adapted, rtol=1e-4, atol=1e-4)
    merged.save_pretrained(tmp_path / "merged")
    reloaded = WhisperForConditionalGeneration.from_pretrained(tmp_path / "merged").eval()
    torch.testing.assert_close(_logits(reloaded, features), adapted, rtol=1e-4, atol=1e-4)


def _with_active_lora(model) -> tuple[LoraSettings, torch.Tensor, torch.Tensor]:
    """LoRA (r=4) on `model` with non-zero adapters, so merging them changes the output: the settings, an input
    and the adapted model's logits for it."""
    settings = typed_defaults(LoraSettings, enabled=True, r=4, alpha=8, dropout=0.0)
    add_lora(model, settings)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    model.eval()
    features = torch.randn(1, 80, 3000)
    return settings, features, _logits(model, features)


def test_a_lora_record_written_before_newer_settings_still_rebuilds(model, random_whisper_dir: Path) -> None:
    settings, features, expected = _with_active_lora(model)
    record = settings_record(settings)
    del record["modules_to_save"], record["adapter_only_checkpoints"]  # an old record: these keys came later
    adapters = {k: v for k, v in model.state_dict().items() if ".lora_" in k}
    base = WhisperForConditionalGeneration.from_pretrained(random_whisper_dir)
    merged = load_merged(base, record, adapters, "old.ckpt")  # the missing keys: conf/finetune/full.yaml's values
    assert not [k for k in merged.state_dict() if "lora" in k]
    torch.testing.assert_close(_logits(merged.eval(), features), expected, rtol=1e-4, atol=1e-4)


def test_a_lora_run_checkpoint_is_merged_when_loaded_for_evaluation(model, random_whisper_dir: Path,
                                                                     tmp_path: Path, cache_dir: Path,
                                                                     compose_config) -> None:
    settings, features, expected = _with_active_lora(model)
    adapters_only = {f"model.{k}": v for k, v in model.state_dict().items() if ".lora_" in k}
    ckpt = tmp_path / "lora.ckpt"
    torch.save({"state_dict": adapters_only,
                "whisper_exp": {"lora": settings_record(settings), "base_weights": str(random_whisper_dir)}}, ckpt)
    loaded = load_whisper(validate_config(compose_config("model=tiny.en", f"model.checkpoint={ckpt}")).model,
                          cache_dir)
    assert not [k for k in loaded.model.state_dict() if "lora" in k]
    torch.testing.assert_close(_logits(loaded.model.eval(), features), expected, rtol=1e-4, atol=1e-4)


def test_lora_8bit_fails_at_once_without_cuda() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the 8-bit path is exercised on GPUs")
    with pytest.raises(FinetuneError, match="needs a CUDA GPU.*finetune=lora"):
        load_kwargs(ft(name="lora_8bit", load_in_8bit=True, lora=typed_defaults(LoraSettings, enabled=True)))
    assert load_kwargs(ft()) == {}


@pytest.mark.parametrize(("overrides", "message"), [
    (["finetune=freeze_encoder_layers"], r"finetune\.frozen_layers"),
    (["finetune.frozen_layers=-1"], r"frozen_layers=-1 must be an integer >= 0 or 'all'"),
    (["finetune.frozen_layers=most"], r"frozen_layers='most'"),
    (["finetune=lora", "finetune.frozen_layers=2"], "freezes the whole base model already"),
    (["finetune.load_in_8bit=true"], "needs finetune.lora.enabled=true"),
    (["finetune=lora", "finetune.lora.bias=some"], r"finetune\.lora\.bias"),
])
def test_finetune_config_errors_name_the_key(compose_config, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config(compose_config(*overrides))


@pytest.mark.parametrize(("preset", "overrides", "mode"), [
    ("full", [], "full"),
    ("full", ["finetune.frozen_layers=2"], "frozen_layers=2"),
    ("freeze_encoder", [], "freeze_encoder"),
    ("freeze_encoder_layers", ["finetune.frozen_layers=4"], "freeze_encoder"),  # tiny.en has 4 encoder layers
    ("freeze_decoder", [], "freeze_decoder"),
    ("lora", ["finetune.lora.target_modules=all-linear"], "lora(r=32,all-linear)"),
    ("lora_8bit", [], "lora_8bit(r=32,q_proj+v_proj)"),
])
def test_every_preset_composes_and_describes_itself(compose_config, preset: str, overrides: list[str],
                                                    mode: str) -> None:
    run = validate_config(compose_config(f"finetune={preset}", *overrides))
    assert run.finetune.name == preset
    assert describe_finetune(run.finetune, resolve_frozen_layers(run.finetune.frozen_layers, 4), 4) == mode


def test_dropout_above_point_one_warns(random_whisper_dir: Path, cache_dir: Path, compose_config,
                                       caplog: pytest.LogCaptureFixture) -> None:
    cfg = validate_config(compose_config("model=tiny.en", f"model.checkpoint={random_whisper_dir}",
                                         "model.dropout=0.2", "model.attention_dropout=0.05")).model
    with caplog.at_level(logging.WARNING):
        loaded = load_whisper(cfg, cache_dir)
    assert loaded.model.config.dropout == 0.2 and loaded.model.config.attention_dropout == 0.05
    warned = [r.getMessage() for r in caplog.records if "dropout" in r.getMessage()]
    assert len(warned) == 1 and "model.dropout=0.20" in warned[0]


def test_count_parameters_counts_tied_weights_once(model) -> None:
    counts = count_parameters(model)
    assert model.proj_out.weight is model.model.decoder.embed_tokens.weight
    assert counts.total == sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
