"""Write a Hugging Face Whisper folder as a whisper.cpp model file (the legacy ggml container).

Hand-written because whisper.cpp ships only a script that needs a checkout of openai/whisper for its mel
filters (whisper.cpp #2751, #3778); this writer takes them from the folder's own feature extractor. The
layout, all little-endian, as whisper.cpp's loader reads it:

1. magic ``0x67676d6c`` ("ggml"), int32;
2. hyper-parameters, int32 each: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer, n_text_ctx,
   n_text_state, n_text_head, n_text_layer, n_mels, ftype (0 = float32, 1 = float16);
3. mel filters: int32 n_mels, int32 n_freq (n_fft // 2 + 1), then n_mels × n_freq float32, row per mel band;
4. vocabulary: int32 count, then per token int32 byte length + the token's raw bytes (byte-level BPE decoded),
   in id order; whisper.cpp names the special tokens above the count itself (from n_vocab);
5. tensors, each: int32 n_dims, int32 name length, int32 type (0 float32, 1 float16), the dims innermost first
   (reversed numpy shape), the name (OpenAI's parameter names), the raw data.

whisper.cpp refuses a file whose tensor set, shapes or types differ from what it allocates, so the per-tensor
type rule below mirrors its allocation: with float16, matrices and convolution kernels are float16; biases,
norms, positional embeddings and the convolution biases stay float32.
"""

from __future__ import annotations

import json
import logging
import re
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration
from transformers.convert_slow_tokenizer import bytes_to_unicode

log = logging.getLogger(__name__)

GGML_MAGIC = 0x67676D6C
GGML_FTYPES = {"float32": 0, "float16": 1}
GGML_FILENAME = "ggml-model.bin"
# whisper.cpp treats a model as multilingual from this vocabulary size on (51864 = the .en vocabulary).
MULTILINGUAL_MIN_VOCAB = 51865

# transformers name → OpenAI / whisper.cpp name (applied in order, first match per pattern).
_LAYER_PARTS = (
    ("self_attn.q_proj", "attn.query"), ("self_attn.k_proj", "attn.key"), ("self_attn.v_proj", "attn.value"),
    ("self_attn.out_proj", "attn.out"), ("self_attn_layer_norm", "attn_ln"),
    ("encoder_attn.q_proj", "cross_attn.query"), ("encoder_attn.k_proj", "cross_attn.key"),
    ("encoder_attn.v_proj", "cross_attn.value"), ("encoder_attn.out_proj", "cross_attn.out"),
    ("encoder_attn_layer_norm", "cross_attn_ln"), ("fc1", "mlp.0"), ("fc2", "mlp.2"), ("final_layer_norm", "mlp_ln"),
)
_TOP_LEVEL = {
    "model.encoder.conv1.weight": "encoder.conv1.weight", "model.encoder.conv1.bias": "encoder.conv1.bias",
    "model.encoder.conv2.weight": "encoder.conv2.weight", "model.encoder.conv2.bias": "encoder.conv2.bias",
    "model.encoder.embed_positions.weight": "encoder.positional_embedding",
    "model.encoder.layer_norm.weight": "encoder.ln_post.weight",
    "model.encoder.layer_norm.bias": "encoder.ln_post.bias",
    "model.decoder.embed_tokens.weight": "decoder.token_embedding.weight",
    "model.decoder.embed_positions.weight": "decoder.positional_embedding",
    "model.decoder.layer_norm.weight": "decoder.ln.weight", "model.decoder.layer_norm.bias": "decoder.ln.bias",
}
_LAYER = re.compile(r"^model\.(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)$")
_ALWAYS_FLOAT32 = ("encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding",
                   "decoder.positional_embedding")


class GgmlExportError(ValueError):
    """The model cannot be written in whisper.cpp's format (the message says which part)."""


def openai_name(hf_name: str) -> str | None:
    """whisper.cpp's name for a transformers parameter; None for the tied output projection."""
    if hf_name == "proj_out.weight":
        return None
    if hf_name in _TOP_LEVEL:
        return _TOP_LEVEL[hf_name]
    match = _LAYER.match(hf_name)
    if match:
        stack, index, part, kind = match.groups()
        for ours, theirs in _LAYER_PARTS:
            if part == ours:
                return f"{stack}.blocks.{index}.{theirs}.{kind}"
    raise GgmlExportError(f"parameter {hf_name!r} has no whisper.cpp counterpart (not a plain Whisper model?)")


def tensor_ftype(name: str, n_dims: int, ftype: str) -> int:
    """0 (float32) or 1 (float16) for tensor `name`, as whisper.cpp allocates it."""
    if ftype == "float32" or n_dims < 2 or name in _ALWAYS_FLOAT32:
        return 0
    return 1


def vocabulary_bytes(tokenizer_json: Path) -> list[bytes]:
    """The byte-level BPE vocabulary of `tokenizer.json` in id order, as raw bytes (no special tokens above it)."""
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    vocab: dict[str, int] = data.get("model", {}).get("vocab") or {}
    if not vocab:
        raise GgmlExportError(f"{tokenizer_json} has no model.vocab (not a byte-level BPE tokenizer)")
    ordered = sorted(vocab.items(), key=lambda item: item[1])
    if [token_id for _, token_id in ordered] != list(range(len(ordered))):
        raise GgmlExportError(f"{tokenizer_json}: vocabulary ids are not contiguous from 0")
    decoder = {char: byte for byte, char in bytes_to_unicode().items()}
    try:
        return [bytes(decoder[char] for char in token) for token, _ in ordered]
    except KeyError as err:
        raise GgmlExportError(f"{tokenizer_json}: token with a character outside byte-level BPE: {err}") from err


def mel_filters(extractor: WhisperFeatureExtractor) -> np.ndarray:
    """The extractor's mel filter bank as (n_mels, n_fft // 2 + 1) float32 (transformers stores it transposed)."""
    filters = np.asarray(extractor.mel_filters, dtype=np.float32)
    if filters.shape != (extractor.n_fft // 2 + 1, extractor.feature_size):
        raise GgmlExportError(f"unexpected mel filter shape {filters.shape}")
    return np.ascontiguousarray(filters.T)


def _write_tensor(out: BinaryIO, name: str, data: np.ndarray, ftype: str) -> None:
    if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
        data = data.reshape(data.shape[0], 1)  # whisper.cpp broadcasts the conv bias as a (1, n_state) tensor
    kind = tensor_ftype(name, data.ndim, ftype)
    data = data.astype(np.float16 if kind == 1 else np.float32)
    encoded = name.encode("utf-8")
    out.write(struct.pack("<iii", data.ndim, len(encoded), kind))
    out.write(struct.pack(f"<{data.ndim}i", *reversed(data.shape)))
    out.write(encoded)
    out.write(np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<"), copy=False).tobytes())


def ggml_ftype(path: Path) -> str:
    """The ftype name recorded in a whisper.cpp file's header."""
    with path.open("rb") as handle:
        header = struct.unpack("<12i", handle.read(48))
    if header[0] != GGML_MAGIC:
        raise GgmlExportError(f"{path} is not a whisper.cpp ggml file")
    names = {code: name for name, code in GGML_FTYPES.items()}
    return names.get(header[11], f"ftype {header[11]}")


def write_ggml(hf_dir: Path, out_path: Path, ftype: str = "float16") -> Path:
    """Write the Whisper model in `hf_dir` (transformers folder with tokenizer.json) to `out_path`.

    `ftype`: "float32" (bit-faithful to the source) or "float16" (half the size, whisper.cpp's default).
    """
    if ftype not in GGML_FTYPES:
        raise GgmlExportError(f"ggml ftype {ftype!r}: choose one of {sorted(GGML_FTYPES)}")
    tokenizer_json = hf_dir / "tokenizer.json"
    if not tokenizer_json.is_file():
        raise GgmlExportError(f"{hf_dir} has no tokenizer.json")
    model = WhisperForConditionalGeneration.from_pretrained(hf_dir, dtype=torch.float32)
    extractor = WhisperFeatureExtractor.from_pretrained(hf_dir)
    cfg = model.config
    if not cfg.encoder_ffn_dim == cfg.decoder_ffn_dim == 4 * cfg.d_model:
        # whisper.cpp stores no MLP width: it allocates 4 × d_model, as every released Whisper has
        raise GgmlExportError(f"{hf_dir}: whisper.cpp needs MLP width 4 × d_model = {4 * cfg.d_model}, this model has "
                              f"encoder {cfg.encoder_ffn_dim} / decoder {cfg.decoder_ffn_dim}")
    if cfg.encoder_attention_heads != cfg.decoder_attention_heads or cfg.encoder_layers < 1:
        raise GgmlExportError(f"{hf_dir}: whisper.cpp needs equal encoder/decoder head counts")
    hparams = (cfg.vocab_size, cfg.max_source_positions, cfg.d_model, cfg.encoder_attention_heads,
               cfg.encoder_layers, cfg.max_target_positions, cfg.d_model, cfg.decoder_attention_heads,
               cfg.decoder_layers, cfg.num_mel_bins, GGML_FTYPES[ftype])
    filters = mel_filters(extractor)
    if filters.shape[0] != cfg.num_mel_bins:
        raise GgmlExportError(f"feature extractor has {filters.shape[0]} mel bands, model expects {cfg.num_mel_bins}")
    vocab = vocabulary_bytes(tokenizer_json)
    if len(vocab) > cfg.vocab_size:
        raise GgmlExportError(f"tokenizer has {len(vocab)} tokens, model only {cfg.vocab_size}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_suffix(out_path.suffix + ".partial")
    with partial.open("wb") as out:
        out.write(struct.pack("<i", GGML_MAGIC))
        out.write(struct.pack(f"<{len(hparams)}i", *hparams))
        out.write(struct.pack("<ii", *filters.shape))
        out.write(filters.astype("<f4").tobytes())
        out.write(struct.pack("<i", len(vocab)))
        for token in vocab:
            out.write(struct.pack("<i", len(token)))
            out.write(token)
        for hf_name, tensor in model.state_dict().items():
            name = openai_name(hf_name)
            if name is not None:
                _write_tensor(out, name, tensor.detach().cpu().numpy(), ftype)
    partial.replace(out_path)
    log.info("wrote whisper.cpp model %s (%s, %.1f MB)", out_path, ftype, out_path.stat().st_size / 1e6)
    return out_path
