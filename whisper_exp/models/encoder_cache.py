"""Encoder-output cache: a frozen encoder (or frozen first N layers) runs once per clip, not every epoch.

When the encoder's first `depth` blocks are frozen, their output for a given input is a constant, yet a
plain training loop recomputes it every epoch and every evaluation — for Whisper that is most of the
compute, since every clip is padded to 30 s. The cache stores that output per input (fp16/bf16, one
memory-mapped ``.npy`` per clip) and the model runs only the trainable rest.

Keys: the folder is named by a hash of the frozen weights, the depth and the storage dtype, so another
checkpoint or freezing depth never reuses stale entries; each entry is named by a hash of the exact
input features, so any change to the audio or the feature settings is a different entry.

`encoder_prefix` / `encoder_suffix` split `WhisperEncoder.forward` (transformers 5) at block `depth`;
tests assert that prefix + suffix equals the library's forward exactly, so a library change that
breaks the split is caught.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from whisper_exp.config.schema import EncoderCacheSettings

log = logging.getLogger(__name__)

STORE_DTYPES = {"float16": (torch.float16, np.float16), "bfloat16": (torch.bfloat16, np.uint16)}
HASH_CHARS = 16
ENCODER_CACHE_DIRNAME = "encoder_outputs"


def encoder_prefix(encoder: WhisperEncoder, features: torch.Tensor, depth: int) -> torch.Tensor:
    """Hidden states after the conv stem, positions and the first `depth` blocks (+ final norm if all)."""
    hidden = nn.functional.gelu(encoder.conv1(features))
    hidden = nn.functional.gelu(encoder.conv2(hidden)).permute(0, 2, 1)
    positions = torch.arange(encoder.embed_positions.num_embeddings, device=hidden.device)
    hidden = hidden + encoder.embed_positions(positions)
    hidden = nn.functional.dropout(hidden, p=encoder.dropout, training=encoder.training)
    for layer in encoder.layers[:depth]:
        hidden = layer(hidden, None)
    if depth == len(encoder.layers):
        hidden = encoder.layer_norm(hidden)
    return hidden


def encoder_suffix(encoder: WhisperEncoder, hidden: torch.Tensor, depth: int) -> torch.Tensor:
    """The rest of the encoder after block `depth` (identity when the prefix covered everything)."""
    if depth == len(encoder.layers):
        return hidden
    for layer in encoder.layers[depth:]:
        hidden = layer(hidden, None)
    return encoder.layer_norm(hidden)


def frozen_weights_hash(encoder: WhisperEncoder, depth: int) -> str:
    """A hash of every weight the prefix of `depth` blocks uses."""
    modules: list[nn.Module] = [encoder.conv1, encoder.conv2, encoder.embed_positions, *encoder.layers[:depth]]
    if depth == len(encoder.layers):
        modules.append(encoder.layer_norm)
    digest = hashlib.sha1(f"depth={depth}".encode())
    for module in modules:
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().to(torch.float32).cpu().numpy().tobytes())
    return digest.hexdigest()[:HASH_CHARS]


def features_key(features: torch.Tensor) -> str:
    """A hash of one clip's exact input features."""
    return hashlib.sha1(features.detach().to(torch.float32).cpu().contiguous().numpy().tobytes()).hexdigest()


class EncoderOutputCache:
    """Per-clip store of the frozen encoder prefix's output."""

    def __init__(self, root: str | Path, encoder: WhisperEncoder, depth: int, dtype: str = "float16") -> None:
        if dtype not in STORE_DTYPES:
            raise ValueError(f"encoder cache dtype must be one of {sorted(STORE_DTYPES)}, got {dtype!r}")
        if not 0 < depth <= len(encoder.layers):
            raise ValueError(f"encoder cache depth must be in 1..{len(encoder.layers)} frozen blocks, got {depth}")
        if any(p.requires_grad for p in encoder.conv1.parameters()) or any(
                p.requires_grad for layer in encoder.layers[:depth] for p in layer.parameters()):
            raise ValueError(f"the encoder's first {depth} blocks must be frozen to cache their output")
        self.encoder = encoder
        self.depth = depth
        self.torch_dtype, self.numpy_dtype = STORE_DTYPES[dtype]
        self.folder = Path(root) / f"encoder-{frozen_weights_hash(encoder, depth)}-d{depth}-{dtype}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npy"

    def _load(self, path: Path) -> torch.Tensor:
        stored = np.load(path, mmap_mode="r")
        return torch.from_numpy(np.array(stored)).view(self.torch_dtype)

    def _save(self, path: Path, hidden: torch.Tensor) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = hidden.detach().to(self.torch_dtype).cpu().contiguous()
        array = raw.view(torch.uint16).numpy() if self.torch_dtype == torch.bfloat16 else raw.numpy()
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            np.save(handle, array)
        os.replace(handle.name, path)

    def prefix_outputs(self, features: torch.Tensor) -> torch.Tensor:
        """Frozen-prefix hidden states for a batch (B, n_mels, frames), computed once per distinct input."""
        keys = [features_key(item) for item in features]
        paths = [self._path(key) for key in keys]
        missing = [i for i, path in enumerate(paths) if not path.exists()]
        if missing:
            was_training = self.encoder.training
            self.encoder.eval()  # the cached value is the deterministic (dropout-free) output
            with torch.no_grad():
                computed = encoder_prefix(self.encoder, features[missing], self.depth)
            self.encoder.train(was_training)
            for row, index in enumerate(missing):
                self._save(paths[index], computed[row])
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        # Cast each entry before stacking: under CPU bf16 autocast, stack refuses float16 inputs.
        return torch.stack([self._load(path).to(dtype=features.dtype) for path in paths]).to(features.device)

    def disk_bytes(self) -> int:
        """Bytes this cache uses on disk."""
        return sum(p.stat().st_size for p in self.folder.rglob("*.npy"))

    def stats(self) -> dict[str, Any]:
        """Depth, hits, misses and disk use, for summary.json."""
        return {"folder": str(self.folder), "depth": self.depth, "hits": self.hits, "misses": self.misses,
                "disk_bytes": self.disk_bytes()}


def build_encoder_cache(model: nn.Module, settings: EncoderCacheSettings, depth: int,
                        cache_dir: str | Path) -> EncoderOutputCache | None:
    """The cache for a model whose encoder's first `depth` blocks are frozen (finetune.frozen_layers as the
    finetune stage resolved it), or None when disabled."""
    if not settings.enabled:
        return None
    encoder = model.get_encoder()
    cache = EncoderOutputCache(Path(cache_dir) / ENCODER_CACHE_DIRNAME, encoder, depth, settings.dtype)
    if getattr(encoder, "dropout", 0.0) or getattr(encoder.config, "encoder_layerdrop", 0.0):
        log.warning("encoder cache: the frozen prefix is cached without dropout/layerdrop (deterministic outputs)")
    log.info("encoder cache: first %d of %d encoder blocks cached in %s (%s)", depth, len(encoder.layers),
             cache.folder, settings.dtype)
    return cache
