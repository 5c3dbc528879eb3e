"""CTranslate2 (faster-whisper) → Hugging Face transformers converter for Whisper checkpoints.

This module owns:

* reading CTranslate2 ``model.bin`` files (binary format version 6), optionally split into several parts
  that are streamed in order as one byte stream, including int8/int16 weights with their ``*_scale``;
* mapping a ``WhisperSpec`` variable layout onto ``transformers.WhisperForConditionalGeneration``
  (un-fusing the q/k/v and cross-attention k/v projections);
* writing a complete Hugging Face checkpoint: safetensors weights, ``WhisperProcessor`` (feature extractor +
  tokenizer) and a ``GenerationConfig`` equivalent to the hub's ``generation_config.json``;
* a content-addressed conversion cache (:func:`ensure_converted`) written atomically.

Things inferred rather than read, because CTranslate2 does not store them:

* English-only vs multilingual comes from the vocabulary size: 51864 tokens = ``*.en`` checkpoints,
  51865 = multilingual (tiny … large-v2), 51866 = large-v3 (one more language token). This is the same rule
  the Hugging Face / OpenAI conversion scripts use (``vocab_size >= 51865`` means multilingual).
* The number of attention heads is read from the ``encoder/num_heads`` and ``decoder/num_heads`` scalars; if a
  file lacks them it falls back to ``d_model // 64``, which holds for every released Whisper size
  (tiny 384/6, base 512/8, small 768/12, medium 1024/16, large 1280/20).
* Special-token ids come from ``tokenizer.json``; suppress lists and alignment heads from CTranslate2's
  ``config.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

logger = logging.getLogger(__name__)

# --- file layout -----------------------------------------------------------------------------------------
MODEL_BIN = "model.bin"
CONFIG_JSON = "config.json"
TOKENIZER_JSON = "tokenizer.json"
VOCABULARY_TXT = "vocabulary.txt"
CONVERSION_RECORD = "whisper_exp_conversion.json"
CACHE_SUBDIR = "ctranslate2"

#: Bump when the converter's output changes: it is part of the cache key.
CONVERTER_VERSION = 1
#: Length of the hexadecimal content hash in cache directory names.
CACHE_HASH_CHARS = 12

# --- CTranslate2 binary format ---------------------------------------------------------------------------
SUPPORTED_BINARY_VERSIONS = (6,)
WHISPER_SPEC_NAME = "WhisperSpec"
#: WhisperSpec revisions whose variable layout this converter understands (2: shared encoder/decoder sizes,
#: 3: separate encoder/decoder layer and head counts; the variable names are the same).
SUPPORTED_WHISPER_REVISIONS = (2, 3)
#: CTranslate2 ``DataType`` enum (include/ctranslate2/types.h) → numpy dtype name.
CT2_DTYPES: dict[int, str] = {
    0: "float32",
    1: "int8",
    2: "int16",
    3: "int32",
    4: "float16",
    5: "bfloat16",
}
_ITEMSIZE = {"float32": 4, "int8": 1, "int16": 2, "int32": 4, "float16": 2, "bfloat16": 2}
_QUANTIZED_DTYPES = ("int8", "int16")
#: Sanity bounds used to detect corrupt files before allocating memory.
MAX_NAME_BYTES = 4096
MAX_RANK = 8
MAX_VARIABLES = 1_000_000
_READ_CHUNK = 1 << 24

# --- Whisper facts ---------------------------------------------------------------------------------------
HEAD_DIM = 64
ENGLISH_ONLY_VOCAB_SIZE = 51864
MULTILINGUAL_VOCAB_SIZE = 51865
LARGE_V3_VOCAB_SIZE = 51866
KNOWN_VOCAB_SIZES = {
    ENGLISH_ONLY_VOCAB_SIZE: "English-only (*.en)",
    MULTILINGUAL_VOCAB_SIZE: "multilingual",
    LARGE_V3_VOCAB_SIZE: "multilingual (large-v3)",
}
CT2_GELU_ACTIVATION = 3
#: Sequence length limit of Whisper's decoder (hub generation_config ``max_length``).
MAX_TARGET_LENGTH = 448
#: Hub value: the first timestamp may be at most 1 s (50 × 20 ms).
MAX_INITIAL_TIMESTAMP_INDEX = 50
#: " " in both Whisper vocabularies; with end-of-text it may not start a transcript (``begin_suppress_tokens``).
SPACE_TOKEN_ID = 220
#: Hub tokenizer_config ``model_max_length``.
TOKENIZER_MODEL_MAX_LENGTH = 1024
#: Whisper's 30 s window is 1500 encoder positions; other values are converted but warned about.
STANDARD_SOURCE_POSITIONS = 1500
#: Scalar variables whose value is checked explicitly; any other scalar must be 0 (feature disabled).
_ENCODER_SCALARS = ("encoder/num_heads",)
_DECODER_SCALARS = (
    "decoder/num_heads",
    "decoder/activation",
    "decoder/pre_norm",
    "decoder/scale_embeddings",
    "decoder/alibi",
    "decoder/start_from_zero_embedding",
    "decoder/alignment_layer",
    "decoder/alignment_heads",
)

_LAYER_RE = re.compile(r"^(encoder|decoder)/layer_(\d+)/")


class CTranslate2FormatError(ValueError):
    """A CTranslate2 model file is truncated, corrupt, or not in a supported format."""


class CTranslate2ConversionError(ValueError):
    """A well-formed CTranslate2 model cannot be mapped onto ``WhisperForConditionalGeneration``."""


@dataclass
class CT2Model:
    """A parsed CTranslate2 ``model.bin``.

    ``variables`` maps every variable name to its raw array as stored (int8/int16 weights stay quantised,
    their ``<name>_scale`` variables are kept alongside; bfloat16 is widened to float32, which is exact);
    alias names map to the same array as their target. ``stored_dtypes`` gives each variable's file dtype.
    """

    spec_name: str
    revision: int
    binary_version: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]
    sha256: str
    sources: tuple[Path, ...]
    #: Size of the concatenated byte stream.
    num_bytes: int = 0
    stored_dtypes: dict[str, str] = field(default_factory=dict)

    def scalar(self, name: str) -> int | float | None:
        """Return the scalar variable ``name`` as a Python number, or ``None`` if the file lacks it."""
        value = self.variables.get(name)
        if value is None:
            return None
        if value.ndim != 0:
            raise CTranslate2FormatError(f"{name} in {_describe(self.sources)} is not a scalar: {value.shape}")
        return value.item()

    def is_quantized(self, name: str) -> bool:
        """Whether variable ``name`` is stored as int8/int16 (with a ``<name>_scale`` companion)."""
        return self.variables[name].dtype.name in _QUANTIZED_DTYPES

    def dequantized(self, name: str) -> np.ndarray:
        """Return variable ``name`` as a new float32 array, dividing int8/int16 values by ``<name>_scale``.

        CTranslate2 quantises a weight ``w`` as ``rint(w * scale)`` with one scale per output row (int8) or
        one scale for the whole tensor (int16), so ``w ≈ q / scale``.
        """
        value = self.variables[name]
        if value.dtype.name not in _QUANTIZED_DTYPES:
            return value.astype(np.float32)  # always a writable copy (the parsed buffer is read-only)
        scale_name = f"{name}_scale"
        if scale_name not in self.variables:
            raise CTranslate2FormatError(
                f"{name} in {_describe(self.sources)} is {value.dtype.name} but {scale_name} is missing"
            )
        scale = np.asarray(self.variables[scale_name], dtype=np.float32)
        if scale.ndim == 0 or scale.size == 1:
            return value.astype(np.float32) / scale.reshape(())
        if value.ndim < 1 or scale.shape != (value.shape[0],):
            raise CTranslate2FormatError(
                f"{scale_name} in {_describe(self.sources)} has shape {scale.shape}, expected "
                f"({value.shape[0]},) (one scale per output row of {name} {value.shape})"
            )
        return value.astype(np.float32) / scale.reshape((-1,) + (1,) * (value.ndim - 1))

    def weight_dtypes(self) -> list[str]:
        """Sorted file dtypes of the non-scalar, non-scale variables (e.g. ``["float16"]``)."""
        return sorted(
            {
                self.stored_dtypes.get(name, value.dtype.name)
                for name, value in self.variables.items()
                if value.ndim > 0 and not name.endswith("_scale") and name not in self.aliases
            }
        )


# ======================================================================================================
# Reading model.bin
# ======================================================================================================


class _PartStream:
    """Reads several files in order as one byte stream, hashing everything it reads."""

    def __init__(self, parts: Sequence[Path]) -> None:
        self._parts = [Path(p) for p in parts]
        self._index = -1
        self._file: BinaryIO | None = None
        self._file_offset = 0
        self.offset = 0
        self.sha256 = hashlib.sha256()
        for part in self._parts:
            if not part.is_file():
                raise FileNotFoundError(f"CTranslate2 model part not found: {part}")
        self._advance()

    @property
    def where(self) -> str:
        """Human-readable position (file and offset inside it) for error messages."""
        if 0 <= self._index < len(self._parts):
            return f"{self._parts[self._index]} at byte {self._file_offset}"
        return f"end of {self._parts[-1]}"

    def _advance(self) -> None:
        if self._file is not None:
            self._file.close()
        self._index += 1
        self._file_offset = 0
        # Kept open across read() calls on purpose; close() and _advance() release it.
        in_range = self._index < len(self._parts)
        self._file = open(self._parts[self._index], "rb") if in_range else None  # noqa: SIM115

    def read(self, size: int, what: str) -> bytes:
        """Read exactly ``size`` bytes, crossing part boundaries; raise if the stream ends first."""
        chunks: list[bytes] = []
        remaining = size
        while remaining > 0 and self._file is not None:
            chunk = self._file.read(min(remaining, _READ_CHUNK))
            if not chunk:
                self._advance()
                continue
            chunks.append(chunk)
            remaining -= len(chunk)
            self._file_offset += len(chunk)
        data = b"".join(chunks)
        self.sha256.update(data)
        self.offset += len(data)
        if remaining:
            raise CTranslate2FormatError(
                f"{_describe(self._parts)} is truncated: needed {size} bytes for {what} at stream offset "
                f"{self.offset - len(data)}, only {len(data)} left. Re-download or re-install the model "
                "files."
            )
        return data

    def at_end(self) -> bool:
        """True when every part has been fully consumed (reads ahead across empty tails)."""
        while self._file is not None:
            pos = self._file.tell()
            if self._file.read(1):
                self._file.seek(pos)
                return False
            self._advance()
        return True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def unpack(self, fmt: str, what: str) -> int:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        where = self.where
        length = self.unpack("<H", f"length of {what}")
        if length == 0 or length > MAX_NAME_BYTES:
            raise CTranslate2FormatError(f"corrupt CTranslate2 file {where}: {what} has implausible length {length}")
        raw = self.read(length, what)
        if raw[-1] != 0:
            raise CTranslate2FormatError(f"corrupt CTranslate2 file {where}: {what} is not NUL-terminated")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CTranslate2FormatError(f"corrupt CTranslate2 file {where}: {what} is not UTF-8") from exc


def _describe(parts: Sequence[Path]) -> str:
    parts = list(parts)
    if len(parts) == 1:
        return str(parts[0])
    return " + ".join(str(p) for p in parts)


def _decode_array(raw: bytes, dtype_name: str, dims: list[int]) -> np.ndarray:
    if dtype_name == "bfloat16":
        as_u16 = np.frombuffer(raw, dtype="<u2")
        array = (as_u16.astype(np.uint32) << 16).view(np.float32)
    else:
        array = np.frombuffer(raw, dtype=np.dtype(dtype_name).newbyteorder("<"))
    return array.reshape(dims)


def read_ctranslate2_model(parts: Sequence[Path], expected_spec: str | None = WHISPER_SPEC_NAME) -> CT2Model:
    """Parse a CTranslate2 ``model.bin`` given as one or more files concatenated in order.

    Args:
        parts: ``[model.bin]``, or the pieces of a split file in order.
        expected_spec: Spec name the file must declare (``None`` accepts any).

    Raises:
        FileNotFoundError: a part does not exist.
        CTranslate2FormatError: truncated/corrupt data, unknown binary version or dtype, trailing bytes,
            or a spec other than ``expected_spec``. Messages name the file(s) involved.
    """
    if not parts:
        raise ValueError("read_ctranslate2_model needs at least one model.bin part")
    sources = tuple(Path(p) for p in parts)
    stream = _PartStream(sources)
    try:
        version = stream.unpack("<I", "binary version")
        if version not in SUPPORTED_BINARY_VERSIONS:
            raise CTranslate2FormatError(
                f"{_describe(sources)}: unsupported CTranslate2 binary version {version} "
                f"(supported: {SUPPORTED_BINARY_VERSIONS}); re-export the model with a recent CTranslate2"
            )
        spec_name = stream.string("spec name")
        if expected_spec is not None and spec_name != expected_spec:
            raise CTranslate2FormatError(
                f"{_describe(sources)} holds a {spec_name!r} model, expected {expected_spec!r}"
            )
        revision = stream.unpack("<I", "spec revision")
        count = stream.unpack("<I", "number of variables")
        if count > MAX_VARIABLES:
            raise CTranslate2FormatError(f"corrupt CTranslate2 file {_describe(sources)}: {count} variables")
        variables: dict[str, np.ndarray] = {}
        stored_dtypes: dict[str, str] = {}
        for index in range(count):
            name = stream.string(f"name of variable #{index}")
            where = stream.where
            rank = stream.unpack("<B", f"rank of {name}")
            if rank > MAX_RANK:
                raise CTranslate2FormatError(f"corrupt CTranslate2 file {where}: {name} has rank {rank}")
            dims = [stream.unpack("<I", f"shape of {name}") for _ in range(rank)]
            dtype_id = stream.unpack("<B", f"dtype of {name}")
            if dtype_id not in CT2_DTYPES:
                raise CTranslate2FormatError(
                    f"{where}: variable {name} has unknown dtype id {dtype_id} "
                    f"(known: {CT2_DTYPES}); the file is corrupt or from an unsupported CTranslate2 version"
                )
            dtype_name = CT2_DTYPES[dtype_id]
            num_bytes = stream.unpack("<I", f"byte count of {name}")
            expected = int(np.prod(dims, dtype=np.int64)) * _ITEMSIZE[dtype_name]
            if num_bytes != expected:
                raise CTranslate2FormatError(
                    f"corrupt CTranslate2 file {where}: {name} {dims} {dtype_name} declares {num_bytes} "
                    f"bytes, expected {expected}"
                )
            if name in variables:
                raise CTranslate2FormatError(f"corrupt CTranslate2 file {where}: duplicate variable {name}")
            variables[name] = _decode_array(stream.read(num_bytes, f"data of {name}"), dtype_name, dims)
            stored_dtypes[name] = dtype_name
        aliases: dict[str, str] = {}
        alias_count = stream.unpack("<I", "number of aliases")
        if alias_count > MAX_VARIABLES:
            raise CTranslate2FormatError(f"corrupt CTranslate2 file {_describe(sources)}: {alias_count} aliases")
        for index in range(alias_count):
            alias = stream.string(f"alias #{index}")
            target = stream.string(f"target of alias {alias}")
            aliases[alias] = target
        if not stream.at_end():
            raise CTranslate2FormatError(
                f"corrupt CTranslate2 file {_describe(sources)}: unexpected data after byte {stream.offset} "
                "(wrong part order, or parts from different models?)"
            )
    finally:
        stream.close()
    for alias, target in aliases.items():
        resolved, seen = target, {alias}
        while resolved in aliases and resolved not in seen:  # chains are legal, cycles are not
            seen.add(resolved)
            resolved = aliases[resolved]
        if resolved not in variables:
            raise CTranslate2FormatError(
                f"corrupt CTranslate2 file {_describe(sources)}: alias {alias} points to missing {target}"
            )
        variables[alias] = variables[resolved]
        stored_dtypes[alias] = stored_dtypes[resolved]
        aliases[alias] = resolved
    logger.debug(
        "read %s: %s rev %d, %d variables, %d aliases",
        _describe(sources),
        spec_name,
        revision,
        count,
        alias_count,
    )
    return CT2Model(
        spec_name=spec_name,
        revision=revision,
        binary_version=version,
        variables=variables,
        aliases=aliases,
        sha256=stream.sha256.hexdigest(),
        sources=sources,
        num_bytes=stream.offset,
        stored_dtypes=stored_dtypes,
    )


def is_ctranslate2_dir(path: Path) -> bool:
    """Whether ``path`` holds a CTranslate2 ``model.bin`` (or ``model.bin.part1``) with a valid header.

    Only the first bytes are read. A folder holding only ``model.bin.part1`` (a split model) counts, but
    converting it needs the parts passed explicitly.
    """
    path = Path(path)
    for candidate in (path / MODEL_BIN, path / f"{MODEL_BIN}.part1"):
        if candidate.is_file():
            try:
                with open(candidate, "rb") as handle:
                    header = handle.read(6)
            except OSError:
                return False
            if len(header) < 6:
                return False
            version, name_length = struct.unpack("<IH", header)
            return version in SUPPORTED_BINARY_VERSIONS and 0 < name_length <= MAX_NAME_BYTES
    return False


def _default_parts(ct2_dir: Path) -> list[Path]:
    single = ct2_dir / MODEL_BIN
    if single.is_file():
        return [single]
    if (ct2_dir / f"{MODEL_BIN}.part1").is_file():
        raise FileNotFoundError(
            f"{ct2_dir} holds a split {MODEL_BIN} ({MODEL_BIN}.part1 …); pass "
            "model_bin_parts=[part1, part2, …] in order"
        )
    raise FileNotFoundError(f"{ct2_dir} is not a CTranslate2 model folder: {MODEL_BIN} is missing")


# ======================================================================================================
# CTranslate2 WhisperSpec → transformers state dict
# ======================================================================================================


@dataclass(frozen=True)
class WhisperDims:
    """Architecture sizes read from a CTranslate2 Whisper model."""

    d_model: int
    encoder_layers: int
    decoder_layers: int
    encoder_attention_heads: int
    decoder_attention_heads: int
    encoder_ffn_dim: int
    decoder_ffn_dim: int
    num_mel_bins: int
    vocab_size: int
    max_source_positions: int
    max_target_positions: int


class _Take:
    """Hands out float32 tensors from a CT2Model, remembering which variables were used."""

    def __init__(self, model: CT2Model) -> None:
        self.model = model
        self.used: set[str] = set()

    def __call__(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Variable ``name`` as float32 (dequantised), checked to have ``shape``."""
        if name not in self.model.variables:
            raise CTranslate2ConversionError(
                f"{_describe(self.model.sources)} lacks variable {name} expected by the Whisper layout"
            )
        value = self.model.dequantized(name)
        if value.shape != shape:
            raise CTranslate2ConversionError(
                f"{name} in {_describe(self.model.sources)} has shape {value.shape}, expected {shape}"
            )
        self.used.add(name)
        if self.model.is_quantized(name):
            self.used.add(f"{name}_scale")
        return value


def _count_layers(model: CT2Model, side: str) -> int:
    matches = (_LAYER_RE.match(name) for name in model.variables)
    indexes = {int(m.group(2)) for m in matches if m and m.group(1) == side}
    if indexes != set(range(len(indexes))):
        raise CTranslate2ConversionError(
            f"{_describe(model.sources)}: {side} layer indexes are not contiguous: {sorted(indexes)}"
        )
    if not indexes:
        raise CTranslate2ConversionError(f"{_describe(model.sources)} has no {side} layers")
    return len(indexes)


def _shape(model: CT2Model, name: str) -> tuple[int, ...]:
    if name not in model.variables:
        raise CTranslate2ConversionError(
            f"{_describe(model.sources)} lacks {name}; is it really a Whisper CTranslate2 model?"
        )
    return tuple(model.variables[name].shape)


def _heads(model: CT2Model, side: str, d_model: int) -> int:
    stored = model.scalar(f"{side}/num_heads")
    heads = int(stored) if stored is not None else d_model // HEAD_DIM
    if stored is None:
        logger.info("%s/num_heads not stored; using d_model/%d = %d", side, HEAD_DIM, heads)
    if heads <= 0 or d_model % heads:
        raise CTranslate2ConversionError(
            f"{_describe(model.sources)}: {side} has {heads} heads, which does not divide d_model={d_model}"
        )
    return heads


def whisper_dims(model: CT2Model) -> WhisperDims:
    """Read the Whisper architecture sizes from the variable shapes (and the ``num_heads`` scalars)."""
    d_model, num_mel_bins, _ = _shape(model, "encoder/conv1/weight")
    vocab_size, d_embed = _shape(model, "decoder/embeddings/weight")
    if d_embed != d_model:
        raise CTranslate2ConversionError(
            f"{_describe(model.sources)}: decoder embeddings are {d_embed}-d but the encoder is {d_model}-d"
        )
    return WhisperDims(
        d_model=d_model,
        encoder_layers=_count_layers(model, "encoder"),
        decoder_layers=_count_layers(model, "decoder"),
        encoder_attention_heads=_heads(model, "encoder", d_model),
        decoder_attention_heads=_heads(model, "decoder", d_model),
        encoder_ffn_dim=_shape(model, "encoder/layer_0/ffn/linear_0/weight")[0],
        decoder_ffn_dim=_shape(model, "decoder/layer_0/ffn/linear_0/weight")[0],
        num_mel_bins=num_mel_bins,
        vocab_size=vocab_size,
        max_source_positions=_shape(model, "encoder/position_encodings/encodings")[0],
        max_target_positions=_shape(model, "decoder/position_encodings/encodings")[0],
    )


def _check_scalars(model: CT2Model) -> set[str]:
    """Validate the decoder options against what HF Whisper implements; return the scalar names handled."""
    src = _describe(model.sources)
    expectations: dict[str, tuple[Any, str]] = {
        "decoder/activation": (CT2_GELU_ACTIVATION, "GELU activation"),
        "decoder/pre_norm": (1, "pre-norm layers"),
        "decoder/alibi": (0, "no ALiBi"),
        "decoder/start_from_zero_embedding": (0, "decoding from the start token embedding"),
    }
    for name, (wanted, meaning) in expectations.items():
        value = model.scalar(name)
        if value is not None and value != wanted:
            raise CTranslate2ConversionError(f"{src}: {name}={value}, but HF Whisper requires {meaning}")
    # A boolean (int8) flag means "multiply by sqrt(d_model)" when true; a float is the multiplier itself.
    scale = model.variables.get("decoder/scale_embeddings")
    if scale is not None and scale.item() != (0 if scale.dtype.kind in "biu" else 1.0):
        raise CTranslate2ConversionError(
            f"{src}: decoder/scale_embeddings={scale.item()} ({scale.dtype}); HF Whisper does not scale embeddings"
        )
    handled = set(_ENCODER_SCALARS) | set(_DECODER_SCALARS)
    for name, value in model.variables.items():
        is_tensor_scale = name.endswith("_scale") and name.removesuffix("_scale") in model.variables
        if value.ndim == 0 and name not in handled and not is_tensor_scale:  # int16 scales are scalars
            if value.item() != 0:
                raise CTranslate2ConversionError(
                    f"{src}: unsupported option {name}={value.item()} (HF Whisper has no equivalent)"
                )
            logger.debug("ignoring disabled CTranslate2 option %s=0", name)
            handled.add(name)
    return handled


def ctranslate2_to_state_dict(model: CT2Model) -> tuple[WhisperDims, dict[str, np.ndarray]]:
    """Map a CTranslate2 WhisperSpec onto ``WhisperForConditionalGeneration`` parameter names (float32).

    Every CTranslate2 variable must be consumed and every HF parameter is produced exactly once
    (``proj_out.weight`` is tied to the decoder embeddings and not included). Fused projections are split:
    self-attention ``linear_0`` = [q; k; v], cross-attention ``linear_0`` = q and ``linear_1`` = [k; v].
    HF Whisper's ``k_proj`` has no bias; CTranslate2 stores zeros there. A non-zero key bias is dropped with a
    log message: it adds ``q·b`` to every logit of a query, which softmax cancels exactly.
    """
    dims = whisper_dims(model)
    scalars = _check_scalars(model)
    take = _Take(model)
    d, state = dims.d_model, {}

    def norm(src: str, dst: str) -> None:
        state[f"{dst}.weight"] = take(f"{src}/gamma", (d,))
        state[f"{dst}.bias"] = take(f"{src}/beta", (d,))

    def linear(src: str, dst: str, out_dim: int, in_dim: int) -> None:
        state[f"{dst}.weight"] = take(f"{src}/weight", (out_dim, in_dim))
        state[f"{dst}.bias"] = take(f"{src}/bias", (out_dim,))

    def fused(src: str, dst: str, names: Sequence[str]) -> None:
        n = len(names)
        weight = take(f"{src}/weight", (n * d, d))
        bias = take(f"{src}/bias", (n * d,))
        for i, proj in enumerate(names):  # copies: parameters must not share storage
            state[f"{dst}.{proj}.weight"] = weight[i * d : (i + 1) * d].copy()
            part = bias[i * d : (i + 1) * d].copy()
            if proj == "k_proj":
                if np.any(part != 0):
                    logger.info("%s: dropping non-zero key bias (softmax-invariant, not in HF Whisper)", src)
                continue
            state[f"{dst}.{proj}.bias"] = part

    enc, dec = "model.encoder", "model.decoder"
    for conv, in_ch in (("conv1", dims.num_mel_bins), ("conv2", d)):
        state[f"{enc}.{conv}.weight"] = take(f"encoder/{conv}/weight", (d, in_ch, 3))
        state[f"{enc}.{conv}.bias"] = take(f"encoder/{conv}/bias", (d,))
    state[f"{enc}.embed_positions.weight"] = take(
        "encoder/position_encodings/encodings", (dims.max_source_positions, d)
    )
    norm("encoder/layer_norm", f"{enc}.layer_norm")
    for i in range(dims.encoder_layers):
        src, dst = f"encoder/layer_{i}", f"{enc}.layers.{i}"
        norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
        fused(f"{src}/self_attention/linear_0", f"{dst}.self_attn", ("q_proj", "k_proj", "v_proj"))
        linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj", d, d)
        norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
        linear(f"{src}/ffn/linear_0", f"{dst}.fc1", dims.encoder_ffn_dim, d)
        linear(f"{src}/ffn/linear_1", f"{dst}.fc2", d, dims.encoder_ffn_dim)

    state[f"{dec}.embed_tokens.weight"] = take("decoder/embeddings/weight", (dims.vocab_size, d))
    state[f"{dec}.embed_positions.weight"] = take(
        "decoder/position_encodings/encodings", (dims.max_target_positions, d)
    )
    norm("decoder/layer_norm", f"{dec}.layer_norm")
    for i in range(dims.decoder_layers):
        src, dst = f"decoder/layer_{i}", f"{dec}.layers.{i}"
        norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
        fused(f"{src}/self_attention/linear_0", f"{dst}.self_attn", ("q_proj", "k_proj", "v_proj"))
        linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj", d, d)
        norm(f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
        linear(f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj", d, d)
        fused(f"{src}/attention/linear_1", f"{dst}.encoder_attn", ("k_proj", "v_proj"))
        linear(f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj", d, d)
        norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
        linear(f"{src}/ffn/linear_0", f"{dst}.fc1", dims.decoder_ffn_dim, d)
        linear(f"{src}/ffn/linear_1", f"{dst}.fc2", d, dims.decoder_ffn_dim)

    _check_projection(model, take)
    unused = sorted(set(model.variables) - take.used - scalars - set(model.aliases))
    if unused:
        raise CTranslate2ConversionError(
            f"{_describe(model.sources)} has variables this converter does not map (unsupported Whisper "
            f"variant?): {unused[:10]}{' …' if len(unused) > 10 else ''}"
        )
    return dims, state


def _check_projection(model: CT2Model, take: _Take) -> None:
    """HF Whisper ties ``proj_out`` to the token embeddings; refuse models whose output layer differs."""
    src = _describe(model.sources)
    name = "decoder/projection/weight"
    if name in model.variables and model.aliases.get(name) != "decoder/embeddings/weight":
        projection = take(name, model.variables["decoder/embeddings/weight"].shape)
        if not np.array_equal(projection, model.dequantized("decoder/embeddings/weight")):
            raise CTranslate2ConversionError(
                f"{src}: decoder/projection/weight differs from the token embeddings; HF Whisper ties them"
            )
    bias_name = "decoder/projection/bias"
    if bias_name in model.variables:
        bias = take(bias_name, (model.variables["decoder/embeddings/weight"].shape[0],))
        if np.any(bias != 0):
            raise CTranslate2ConversionError(f"{src}: {bias_name} is non-zero; HF Whisper has no output bias")


# ======================================================================================================
# Tokenizer, processor and generation config
# ======================================================================================================


@dataclass
class _SpecialTokens:
    """Special-token ids of a Whisper tokenizer.json."""

    ids: dict[str, int]
    language_ids: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, token: str) -> int:
        return self.ids[token]


_REQUIRED_SPECIALS = (
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startofprev|>",
    "<|notimestamps|>",
)


def _read_special_tokens(tokenizer_json: Path) -> tuple[_SpecialTokens, list[str]]:
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    added = sorted(data.get("added_tokens", []), key=lambda t: t["id"])
    ids = {t["content"]: int(t["id"]) for t in added}
    missing = [t for t in _REQUIRED_SPECIALS if t not in ids]
    if missing:
        raise CTranslate2ConversionError(f"{tokenizer_json} is not a Whisper tokenizer: missing {missing}")
    sot, translate = ids["<|startoftranscript|>"], ids["<|translate|>"]
    # Language tokens sit between <|startoftranscript|> and <|translate|> in every Whisper vocabulary.
    languages = {content: i for content, i in ids.items() if sot < i < translate}
    specials = [t["content"] for t in added if t.get("special", False)]
    return _SpecialTokens(ids=ids, language_ids=languages), specials


def _build_tokenizer(ct2_dir: Path, specials: list[str], vocab_size: int) -> Any:
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer

    tokenizer_json = ct2_dir / TOKENIZER_JSON
    tokenizer = WhisperTokenizer(
        tokenizer_file=str(tokenizer_json),
        extra_special_tokens=specials,
        pad_token="<|endoftext|>",
        model_max_length=TOKENIZER_MODEL_MAX_LENGTH,
    )
    # tokenizer.json files exported with CTranslate2 lack the timestamp tokens <|0.00|> … <|30.00|>; the
    # hub tokenizers have them as (non-special) added tokens, and vocabulary.txt lists them in id order.
    vocabulary = ct2_dir / VOCABULARY_TXT
    if len(tokenizer) < vocab_size and vocabulary.is_file():
        tokens = vocabulary.read_text(encoding="utf-8").split("\n")[:vocab_size]
        first = len(tokenizer)
        tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in tokens[first:]])
        for index in (first, len(tokens) - 1):
            if index < len(tokens) and tokenizer.convert_tokens_to_ids(tokens[index]) != index:
                raise CTranslate2ConversionError(
                    f"{vocabulary} does not line up with {tokenizer_json}: {tokens[index]!r} ≠ id {index}"
                )
    if len(tokenizer) != vocab_size:
        logger.warning("tokenizer has %d tokens but the model's vocabulary is %d", len(tokenizer), vocab_size)
    return tokenizer


def _read_ct2_config(ct2_dir: Path) -> dict[str, Any]:
    path = ct2_dir / CONFIG_JSON
    if not path.is_file():
        logger.warning(
            "%s is missing: no suppress_tokens, begin_suppress_tokens = [space, eot], alignment heads = every "
            "head of the last half of the decoder layers",
            path,
        )
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def is_english_only(vocab_size: int) -> bool:
    """English-only (``*.en``) checkpoints have 51864 tokens; multilingual ones 51865 (51866 for large-v3)."""
    if vocab_size not in KNOWN_VOCAB_SIZES:
        guess = "multilingual" if vocab_size >= MULTILINGUAL_VOCAB_SIZE else "English-only"
        logger.warning(
            "vocabulary size %d is not a released Whisper size %s; assuming %s",
            vocab_size,
            sorted(KNOWN_VOCAB_SIZES),
            guess,
        )
    return vocab_size < MULTILINGUAL_VOCAB_SIZE


def _generation_config(dims: WhisperDims, specials: _SpecialTokens, ct2_config: dict[str, Any]) -> Any:
    from transformers import GenerationConfig

    english_only = is_english_only(dims.vocab_size)
    eot, sot = specials["<|endoftext|>"], specials["<|startoftranscript|>"]
    alignment_heads = ct2_config.get("alignment_heads") or [
        [layer, head]
        for layer in range(dims.decoder_layers // 2, dims.decoder_layers)
        for head in range(dims.decoder_attention_heads)
    ]
    kwargs: dict[str, Any] = {
        "decoder_start_token_id": sot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        # The hub configs use 50257 for every size: <|startoftranscript|> for *.en, <|endoftext|> otherwise.
        # Whisper generation does not use it.
        "bos_token_id": sot if english_only else eot,
        "no_timestamps_token_id": specials["<|notimestamps|>"],
        "prev_sot_token_id": specials["<|startofprev|>"],
        "suppress_tokens": [int(t) for t in ct2_config.get("suppress_ids", [])],
        "begin_suppress_tokens": [int(t) for t in ct2_config.get("suppress_ids_begin", [SPACE_TOKEN_ID, eot])],
        "alignment_heads": [[int(layer), int(head)] for layer, head in alignment_heads],
        "is_multilingual": not english_only,
        "max_initial_timestamp_index": MAX_INITIAL_TIMESTAMP_INDEX,
        "max_length": MAX_TARGET_LENGTH,
        "return_timestamps": False,
        "forced_decoder_ids": None,
    }
    if not english_only:
        kwargs["lang_to_id"] = dict(specials.language_ids)
        kwargs["task_to_id"] = {
            "translate": specials["<|translate|>"],
            "transcribe": specials["<|transcribe|>"],
        }
        stored = sorted(int(i) for i in ct2_config.get("lang_ids", []))
        if stored and stored != sorted(specials.language_ids.values()):
            logger.warning("config.json lang_ids differ from the tokenizer's language tokens; using those")
    return GenerationConfig(**kwargs)


# ======================================================================================================
# Conversion
# ======================================================================================================


def _model_bin_parts(ct2_dir: Path, model_bin_parts: Sequence[Path] | None) -> list[Path]:
    parts = [Path(p) for p in model_bin_parts] if model_bin_parts else _default_parts(ct2_dir)
    for part in parts:
        if not part.is_file():
            raise FileNotFoundError(f"CTranslate2 model part not found: {part}")
    return parts


def convert_ctranslate2_whisper(ct2_dir: Path, output_dir: Path, model_bin_parts: Sequence[Path] | None = None) -> Path:
    """Convert a CTranslate2 Whisper folder into a Hugging Face checkpoint in ``output_dir``.

    Writes ``model.safetensors`` + ``config.json`` (float32), ``generation_config.json``, the
    ``WhisperProcessor`` files (feature extractor and tokenizer) and ``whisper_exp_conversion.json``.

    Args:
        ct2_dir: Folder with ``tokenizer.json``, ``config.json`` (suppress lists, alignment heads) and,
            unless ``model_bin_parts`` is given, ``model.bin``.
        output_dir: Destination; created if needed. Existing files with the same names are overwritten.
        model_bin_parts: The ``model.bin`` pieces in order, for models split across files/packages.

    Returns:
        ``output_dir``.
    """
    import torch
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    ct2_dir, output_dir = Path(ct2_dir), Path(output_dir)
    parts = _model_bin_parts(ct2_dir, model_bin_parts)
    if not (ct2_dir / TOKENIZER_JSON).is_file():
        raise FileNotFoundError(
            f"{ct2_dir / TOKENIZER_JSON} is missing; the converter needs the model's tokenizer.json"
        )
    specials, special_tokens = _read_special_tokens(ct2_dir / TOKENIZER_JSON)
    logger.info("converting CTranslate2 Whisper %s → %s", _describe(parts), output_dir)
    ct2 = read_ctranslate2_model(parts)
    if ct2.revision not in SUPPORTED_WHISPER_REVISIONS:
        raise CTranslate2FormatError(
            f"{_describe(parts)}: WhisperSpec revision {ct2.revision} is not supported "
            f"({SUPPORTED_WHISPER_REVISIONS}); re-export it with CTranslate2 4.x"
        )
    dims, arrays = ctranslate2_to_state_dict(ct2)
    ct2_config = _read_ct2_config(ct2_dir)
    tokenizer = _build_tokenizer(ct2_dir, special_tokens, dims.vocab_size)
    generation_config = _generation_config(dims, specials, ct2_config)
    if dims.max_source_positions != STANDARD_SOURCE_POSITIONS:
        logger.warning(
            "encoder has %d positions, not %d: the feature extractor still pads to 30 s",
            dims.max_source_positions,
            STANDARD_SOURCE_POSITIONS,
        )

    eot, sot = specials["<|endoftext|>"], specials["<|startoftranscript|>"]
    config = WhisperConfig(
        vocab_size=dims.vocab_size,
        num_mel_bins=dims.num_mel_bins,
        d_model=dims.d_model,
        encoder_layers=dims.encoder_layers,
        decoder_layers=dims.decoder_layers,
        encoder_attention_heads=dims.encoder_attention_heads,
        decoder_attention_heads=dims.decoder_attention_heads,
        encoder_ffn_dim=dims.encoder_ffn_dim,
        decoder_ffn_dim=dims.decoder_ffn_dim,
        max_source_positions=dims.max_source_positions,
        max_target_positions=dims.max_target_positions,
        activation_function="gelu",
        scale_embedding=False,
        tie_word_embeddings=True,
        pad_token_id=eot,
        eos_token_id=eot,
        bos_token_id=generation_config.bos_token_id,
        decoder_start_token_id=sot,
        suppress_tokens=generation_config.suppress_tokens,
        begin_suppress_tokens=generation_config.begin_suppress_tokens,
    )
    state = {name: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for name, a in arrays.items()}
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    expected = set(model.state_dict()) - {"proj_out.weight"}
    if set(state) != expected:
        raise CTranslate2ConversionError(
            f"converter bug or transformers layout change: missing {sorted(expected - set(state))}, "
            f"unexpected {sorted(set(state) - expected)}"
        )
    state["proj_out.weight"] = state["model.decoder.embed_tokens.weight"]
    model.load_state_dict(state, strict=True, assign=True)
    model.tie_weights()
    if model.proj_out.weight.data_ptr() != model.model.decoder.embed_tokens.weight.data_ptr():
        raise CTranslate2ConversionError("proj_out is not tied to the decoder embeddings after loading")
    model.eval()
    model.generation_config = generation_config

    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    feature_extractor = WhisperFeatureExtractor(feature_size=dims.num_mel_bins)
    WhisperProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(output_dir)
    record = {
        "converter": __name__,
        "converter_version": CONVERTER_VERSION,
        "source_dir": str(ct2_dir.resolve()),
        "model_bin_parts": [str(p.resolve()) for p in parts],
        "model_bin_sha256": ct2.sha256,
        "model_bin_bytes": ct2.num_bytes,
        "binary_version": ct2.binary_version,
        "spec_name": ct2.spec_name,
        "spec_revision": ct2.revision,
        "source_weight_dtypes": ct2.weight_dtypes(),
        "english_only": is_english_only(dims.vocab_size),
        "dims": dims.__dict__,
        "converted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (output_dir / CONVERSION_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    logger.info(
        "converted %s (%s, d_model=%d, %d+%d layers, vocab %d) into %s",
        _describe(parts),
        "/".join(record["source_weight_dtypes"]),
        dims.d_model,
        dims.encoder_layers,
        dims.decoder_layers,
        dims.vocab_size,
        output_dir,
    )
    return output_dir


# ======================================================================================================
# Cache
# ======================================================================================================

_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(_READ_CHUNK), b""):
                digest.update(chunk)
        _HASH_MEMO[key] = digest.hexdigest()
    return _HASH_MEMO[key]


def conversion_key(ct2_dir: Path, model_bin_parts: Sequence[Path] | None = None) -> str:
    """Content hash identifying a conversion: model.bin bytes, side files and :data:`CONVERTER_VERSION`."""
    ct2_dir = Path(ct2_dir)
    digest = hashlib.sha256(f"converter-v{CONVERTER_VERSION}".encode())
    for part in _model_bin_parts(ct2_dir, model_bin_parts):
        digest.update(_file_sha256(part).encode())
    for side in (CONFIG_JSON, TOKENIZER_JSON, VOCABULARY_TXT):
        path = ct2_dir / side
        digest.update(f"{side}:{_file_sha256(path) if path.is_file() else '-'}".encode())
    return digest.hexdigest()


def ensure_converted(
    ct2_dir: Path,
    cache_root: Path,
    model_bin_parts: Sequence[Path] | None = None,
    name: str | None = None,
) -> Path:
    """Return a Hugging Face conversion of ``ct2_dir``, converting at most once per content hash.

    The result lives in ``cache_root/ctranslate2/<name>-<hash>/`` (``name`` defaults to the folder name).
    Conversion happens in a temporary sibling folder that is renamed into place when complete, so an
    interrupted conversion never leaves a partial cache entry and concurrent callers end up sharing one.
    """
    ct2_dir, cache_root = Path(ct2_dir), Path(cache_root)
    key = conversion_key(ct2_dir, model_bin_parts)
    label = re.sub(r"[^A-Za-z0-9._-]", "_", name or ct2_dir.name).strip(".") or "whisper"
    parent = cache_root / CACHE_SUBDIR
    final = parent / f"{label}-{key[:CACHE_HASH_CHARS]}"
    if (final / CONVERSION_RECORD).is_file():
        logger.info("using cached conversion %s", final)
        return final
    if final.exists():
        logger.warning("removing incomplete cache entry %s (no %s)", final, CONVERSION_RECORD)
        shutil.rmtree(final)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=parent))
    try:
        convert_ctranslate2_whisper(ct2_dir, staging, model_bin_parts)
        try:
            os.rename(staging, final)
        except OSError:
            if not (final / CONVERSION_RECORD).is_file():
                raise
            logger.info("another process converted %s first; using its result", final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    logger.info("cached conversion at %s", final)
    return final
