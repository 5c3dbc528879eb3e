"""CTC building blocks: configs, waveform features, dynamic padding, what each finetune preset trains, decoding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ctc_defaults import vocab_config
from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForCTC, WhisperFeatureExtractor

from whisper_exp.config.schema import ConfigError, validate_config
from whisper_exp.data.features import FeatureStore, LogMelSettings, as_featurizer
from whisper_exp.families.ctc import CTC_LAYERS, CTCCollator, WaveformFeaturizer
from whisper_exp.families.ctc_vocab import build_tokenizer, build_vocabulary
from whisper_exp.finetune import FinetuneError, apply_finetune
from whisper_exp.tasks.ctc import CTCTask

CTC_MODELS = ("wavlm_large_ctc", "wavlm_base_plus_ctc", "wav2vec2_base_ctc", "hubert_large_ctc")



def _tiny_ctc() -> WavLMForCTC:
    torch.manual_seed(0)
    return WavLMForCTC(WavLMConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
                                   conv_dim=(8, 8, 8), conv_kernel=(10, 4, 8), conv_stride=(10, 4, 8),
                                   num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, vocab_size=12,
                                   pad_token_id=11, num_buckets=16, max_bucket_distance=50))


def _trainable(model: torch.nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("model", CTC_MODELS)
def test_ctc_models_compose_with_their_recommended_lr(compose_config, model: str) -> None:
    run = validate_config(compose_config(f"model={model}"))
    assert run.model.family == "ctc" and run.model.params > 90_000_000
    assert run.optimizer.lr == run.model.finetune_lr and run.optimizer.lr_source.startswith("model.finetune_lr")
    assert run.model.options.vocab.word_delimiter == "|"
    assert validate_config(compose_config(f"model={model}", "optimizer.lr=5e-5")).optimizer.lr == 5e-5


def test_per_checkpoint_normalisation_and_attention_mask(compose_config) -> None:
    ctc = {model: validate_config(compose_config(f"model={model}")).model.options for model in CTC_MODELS}
    assert ctc["wavlm_large_ctc"].do_normalize and ctc["wavlm_large_ctc"].return_attention_mask
    assert ctc["hubert_large_ctc"].do_normalize and ctc["hubert_large_ctc"].return_attention_mask
    assert ctc["wav2vec2_base_ctc"].do_normalize and not ctc["wav2vec2_base_ctc"].return_attention_mask
    assert not ctc["wavlm_base_plus_ctc"].do_normalize


def test_seed_recipe_preset(compose_config) -> None:
    run = validate_config(compose_config("experiment=wavlm_libri100"))
    assert (run.model.name, run.model.hub_id, run.data.name) == ("wavlm_large_ctc", "microsoft/wavlm-large",
                                                                 "librispeech_clean100")
    assert (run.data.batch_size, run.trainer.accumulate_grad_batches, run.optimizer.lr) == (8, 2, 2e-4)
    assert run.optimizer.warmup_steps == 1000 and run.optimizer.scheduler["name"] == "cosine"
    assert run.trainer.precision == "auto" and run.trainer.gradient_checkpointing  # 16-mixed on the seed's V100
    assert run.trainer.max_epochs == 4 and run.data.group_by_length and run.finetune.freeze_feature_encoder


def test_cli_composes_wavlm_on_librispeech() -> None:
    done = subprocess.run([sys.executable, "-m", "whisper_exp", "model=wavlm_large_ctc", "data=librispeech_clean100",
                           "--cfg", "job"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "hub_id: microsoft/wavlm-large" in done.stdout and "family: ctc" in done.stdout


def test_ctc_config_errors(compose_config) -> None:
    with pytest.raises(ConfigError, match="no decoder"):
        validate_config(compose_config("model=wavlm_base_plus_ctc", "finetune=freeze_decoder"))
    with pytest.raises(ConfigError, match="mask_time_prob"):
        validate_config(compose_config("model=wavlm_base_plus_ctc", "model.ctc.mask_time_prob=1.5"))
    with pytest.raises(ConfigError, match="vocab.chars"):
        validate_config(compose_config("model=wavlm_base_plus_ctc", "data.streaming=true"))
    # CTC has no 30 s window: longer clips are allowed (Whisper refuses them).
    longer = validate_config(compose_config("model=wavlm_base_plus_ctc", "data.max_duration_s=40"))
    assert longer.data.max_duration_s == 40


def test_waveform_features_are_normalised_per_clip_and_stored_apart(tmp_path: Path) -> None:
    audio = (0.3 * np.sin(np.arange(16_000) / 10) + 0.1).astype(np.float32)
    normalising = WaveformFeaturizer(Wav2Vec2FeatureExtractor(do_normalize=True))
    values = normalising(audio)
    assert values.shape == audio.shape and values.dtype == np.float32
    assert abs(values.mean()) < 1e-4 and abs(values.std() - 1) < 1e-3
    raw = WaveformFeaturizer(Wav2Vec2FeatureExtractor(do_normalize=False))
    np.testing.assert_array_equal(raw(audio), audio)
    assert normalising.settings.key() != raw.settings.key()
    assert FeatureStore(tmp_path, normalising.settings).folder.name.startswith("waveform-")
    # Whisper's log-mel store keeps its folder (caches from earlier runs stay valid).
    whisper = as_featurizer(WhisperFeatureExtractor(feature_size=80))
    assert FeatureStore(tmp_path, whisper.settings).folder.name == (
        f"logmel-{LogMelSettings.from_extractor(WhisperFeatureExtractor(feature_size=80)).key()}-float32")


@pytest.mark.parametrize("mask", [True, False])
def test_collator_pads_to_the_longest_clip(mask: bool) -> None:
    items = [{"features": np.ones(n, dtype=np.float32), "labels": list(range(k)), "text": "t", "id": str(n),
              "source": "s"} for n, k in ((1600, 3), (4000, 5), (800, 1))]
    batch = CTCCollator(padding_value=0.0, return_attention_mask=mask)(items)
    assert batch["input_values"].shape == (3, 4000)
    assert batch["input_values"][2, 800:].abs().sum() == 0 and batch["input_values"][2, :800].sum() == 800
    assert batch["input_lengths"].tolist() == [1600, 4000, 800]
    assert batch["labels"].shape == (3, 5) and batch["labels"][2, 1:].eq(-100).all()
    assert ("attention_mask" in batch) is mask
    if mask:
        assert batch["attention_mask"].sum(dim=1).tolist() == [1600, 4000, 800]


def test_decoding_ignores_the_batch_padding() -> None:
    model = _tiny_ctc()
    vocab = build_vocabulary(["abcdefgh"], vocab_config())
    tokenizer = build_tokenizer(vocab, vocab_config())
    task = CTCTask(model, tokenizer, optimizer=None, normaliser=str)  # type: ignore[arg-type]
    logits = torch.full((1, 10, len(vocab)), -5.0)
    logits[0, :, vocab["[PAD]"]] = 0.0
    logits[0, 2, vocab["a"]] = logits[0, 3, vocab["|"]] = logits[0, 4, vocab["b"]] = logits[0, 8, vocab["c"]] = 5.0
    # 10 frames of which the clip's own are 6 (1920 samples): the "c" in the padding is not read.
    assert task.decode(logits, torch.tensor([1920])) == ["a b"]
    assert task.decode(logits, torch.tensor([3200])) == ["a bc"]


def test_finetune_presets_on_a_ctc_model(compose_config) -> None:
    def trained(*overrides: str, checkpointing: bool = False) -> tuple[WavLMForCTC, set[str], str]:
        model = _tiny_ctc()
        run = validate_config(compose_config("model=wavlm_base_plus_ctc", *overrides))
        result = apply_finetune(model, run.finetune, layer_map=CTC_LAYERS, gradient_checkpointing=checkpointing)
        return model, _trainable(model), result.mode

    model, names, mode = trained()  # finetune=full: the feature encoder stays frozen
    assert mode == "freeze_feature_encoder"
    assert not any(n.startswith("wavlm.feature_extractor") for n in names)
    assert {n for n, _ in model.named_parameters()} - names == {
        n for n, _ in model.named_parameters() if n.startswith("wavlm.feature_extractor")}
    _, names, mode = trained("finetune=ctc_full")
    assert mode == "full" and names == {n for n, _ in _tiny_ctc().named_parameters()}
    _, names, mode = trained("finetune=freeze_encoder_layers", "finetune.frozen_layers=2")
    assert mode == "frozen_layers=2+freeze_feature_encoder"
    assert not any(n.startswith(("wavlm.feature_projection", "wavlm.encoder.pos_conv_embed",
                                 "wavlm.encoder.layers.0.", "wavlm.encoder.layers.1.")) for n in names)
    assert any(n.startswith("wavlm.encoder.layers.2.") for n in names) and "lm_head.weight" in names
    _, names, mode = trained("finetune=freeze_encoder")
    assert names == {"lm_head.weight", "lm_head.bias"} and mode == "freeze_encoder"
    with pytest.raises(FinetuneError, match="frozen_layers=4"):
        trained("finetune=freeze_encoder_layers", "finetune.frozen_layers=4")
    model, _, _ = trained(checkpointing=True)  # activation checkpointing only where gradients flow
    assert [m.gradient_checkpointing for m in model.wavlm.encoder.layers] == [True] * 3
    assert not any(m.gradient_checkpointing for m in model.wavlm.feature_extractor.conv_layers)


def test_lora_on_a_ctc_model_trains_the_new_head(compose_config) -> None:
    pytest.importorskip("peft")
    plain_lora = validate_config(compose_config("model=wavlm_base_plus_ctc", "finetune=lora")).finetune
    with pytest.raises(FinetuneError, match="ctc_lora"):
        apply_finetune(_tiny_ctc(), plain_lora, layer_map=CTC_LAYERS)
    model = _tiny_ctc()
    run = validate_config(compose_config("model=wavlm_base_plus_ctc", "finetune=ctc_lora"))
    result = apply_finetune(model, run.finetune, layer_map=CTC_LAYERS)
    names = _trainable(model)
    assert any("q_proj.lora_A" in n for n in names) and any("v_proj.lora_B" in n for n in names)
    assert any(n.startswith("lm_head") for n in names)
    assert not any("k_proj" in n or "feature_extractor" in n for n in names)
    assert result.adapter is not None and result.mode.startswith("lora(")


def test_packing_with_a_ctc_model_fails_at_validation_naming_the_key(compose_config) -> None:
    with pytest.raises(ConfigError, match=r"data\.packing\.enabled"):
        validate_config(compose_config("model=wavlm_base_plus_ctc", "data.packing.enabled=true"))


def test_the_vocabulary_and_the_data_module_read_the_training_split_once(
        compose_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import WavLMModel

    import whisper_exp.data.pipeline as pipeline
    from whisper_exp.run import build_components

    torch.manual_seed(0)
    WavLMModel(_tiny_ctc().config).save_pretrained(tmp_path / "wavlm")
    reads: list[str] = []
    real_read = pipeline.read_split
    monkeypatch.setattr(pipeline, "read_split", lambda data, split, *a, **k: reads.append(split)
                        or real_read(data, split, *a, **k))
    run = validate_config(compose_config("model=wavlm_base_plus_ctc", f"model.checkpoint={tmp_path / 'wavlm'}",
                                         "data.train_samples=4", "data.max_duration_s=4.0"))
    parts = build_components(run)
    assert reads == ["train"] and len(parts.loaded.meta["ctc_vocab"]) > 3  # the vocabulary came from the split
    parts.datamodule.setup("fit")
    assert reads == ["train", "validation"]  # the data module prepared train from the same read
    assert parts.datamodule.drops.as_dict(), "clips over 4 s were dropped and counted in the run's counter"
