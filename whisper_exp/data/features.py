"""Log-mel features: computed once per clip and setting, stored compactly, padded at batch time.

Whisper's feature extractor pads every clip to 30 s before the STFT, so the frames after the
audio ends all hold one value: the clamp floor ``max(max_frame_value - 2, -1.5)`` (the
extractor clamps log-mels at max - 8 and maps x → (x + 4) / 4; silence is log10(1e-10) = -10).
We therefore store only the frames that carry audio (about 6× less for 5 s clips) and rebuild
the padded 3000-frame input exactly (`pad_features`). The store is a folder of ``.npy`` files
keyed by the audio's identity and the extractor settings, shared by all runs on the machine.
Other families bring their own `Featurizer` (whisper_exp/families: the CTC family stores the waveform,
Parakeet its own log-mels). The pipeline only sees a `Featurizer` — features plus the settings that
key its store — so it needs no model branch; a WhisperFeatureExtractor is wrapped as `LogMelFeaturizer`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
from transformers import WhisperFeatureExtractor

from whisper_exp.data.audio import AudioRef, check_valid, split_zip_path

# Bump when the way features are computed changes, so old cache entries are not reused.
FEATURE_FORMAT_VERSION = 1
# log10 of the extractor's power floor (1e-10), in normalised units: (-10 + 4) / 4.
SILENCE_FLOOR = -1.5
# The extractor clamps at max - 8 in log10 units, i.e. 2 in normalised units.
CLAMP_RANGE = 2.0
STORE_DTYPES = {"float32": np.float32, "float16": np.float16}


class HashedSettings:
    """For frozen settings dataclasses: `key()` is a short stable hash of their fields (a store's folder name)."""

    def key(self) -> str:
        """A short stable hash of the settings (the store's folder name)."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]  # type: ignore[call-overload]


@dataclass(frozen=True)
class LogMelSettings(HashedSettings):
    """Everything the features depend on besides the audio itself."""

    n_mels: int
    sampling_rate: int
    n_fft: int
    hop_length: int
    n_frames: int
    format_version: int = FEATURE_FORMAT_VERSION
    # Prefix of the store folder (a class constant: not part of the hashed settings).
    kind: ClassVar[str] = "logmel"

    @classmethod
    def from_extractor(cls, extractor: WhisperFeatureExtractor) -> LogMelSettings:
        """Read the settings of a Whisper feature extractor."""
        return cls(n_mels=extractor.feature_size, sampling_rate=extractor.sampling_rate,
                   n_fft=extractor.n_fft, hop_length=extractor.hop_length, n_frames=extractor.nb_max_frames)

    @property
    def frames_per_second(self) -> float:
        """Log-mel frames per second of audio (100 for Whisper: hop 160 samples at 16 kHz)."""
        return self.sampling_rate / self.hop_length


class StoreSettings(Protocol):
    """Settings that key a FeatureStore folder."""

    kind: ClassVar[str]

    def key(self) -> str:
        """A short stable hash of the settings."""
        ...


class Featurizer(Protocol):
    """Audio (float32, model rate) → stored features (time-major), and the settings keying their store."""

    settings: StoreSettings

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """Features of one clip."""
        ...


class LogMelFeaturizer:
    """Whisper log-mels (`compute_features`) for one WhisperFeatureExtractor."""

    def __init__(self, extractor: WhisperFeatureExtractor) -> None:
        self.extractor = extractor
        self.settings = LogMelSettings.from_extractor(extractor)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        return compute_features(self.extractor, audio)


def as_featurizer(extractor: Any) -> Featurizer:
    """A Featurizer as is; a WhisperFeatureExtractor wrapped as LogMelFeaturizer."""
    if isinstance(extractor, WhisperFeatureExtractor):
        return LogMelFeaturizer(extractor)
    if callable(extractor) and hasattr(extractor, "settings"):
        return extractor
    raise TypeError(f"expected a WhisperFeatureExtractor or a Featurizer, got {type(extractor).__name__}")


def padding_floor(frames: np.ndarray) -> float:
    """The value Whisper's extractor gives frames after the audio ends (see module doc)."""
    return max(float(frames.max()) - CLAMP_RANGE, SILENCE_FLOOR)


def compute_features(extractor: WhisperFeatureExtractor, audio: np.ndarray) -> np.ndarray:
    """Log-mels of one clip as (frames carrying audio, n_mels) float32, time-major."""
    full = extractor(audio, sampling_rate=extractor.sampling_rate, return_tensors="np").input_features[0]
    # Frames whose STFT window (centred, n_fft wide) touches the audio; one extra for safety.
    n_valid = min(full.shape[1], math.ceil((len(audio) + extractor.n_fft // 2) / extractor.hop_length) + 1)
    return np.ascontiguousarray(full[:, :n_valid].T, dtype=np.float32)


def pad_features(frames: np.ndarray, n_frames: int) -> np.ndarray:
    """Rebuild the extractor's (n_mels, n_frames) input from stored frames."""
    out = np.full((frames.shape[1], n_frames), padding_floor(frames), dtype=np.float32)
    used = min(len(frames), n_frames)
    out[:, :used] = frames[:used].T
    return out


def audio_identity(ref: AudioRef) -> str:
    """A key that changes when the audio changes: path + size + mtime, or a hash of the bytes.

    For a member of a zip archive: the archive's path, size and mtime plus the member name.
    """
    check_valid(ref)
    if ref.data is not None:
        return "bytes:" + hashlib.sha1(ref.data).hexdigest()
    assert ref.path is not None
    in_zip = split_zip_path(ref.path)
    if in_zip is not None:
        archive, member = in_zip
        stat = os.stat(archive)
        return f"zip:{os.path.abspath(archive)}:{member}:{stat.st_size}:{stat.st_mtime_ns}"
    stat = os.stat(ref.path)
    return f"file:{os.path.abspath(ref.path)}:{stat.st_size}:{stat.st_mtime_ns}"


class FeatureStore:
    """A folder of per-clip feature arrays (log-mels, waveforms) for one set of featurizer settings."""

    def __init__(self, root: str | Path, settings: StoreSettings, dtype: str = "float32") -> None:
        if dtype not in STORE_DTYPES:
            raise ValueError(f"data.features.dtype must be one of {sorted(STORE_DTYPES)}, got {dtype!r}")
        self.settings = settings
        self.dtype = STORE_DTYPES[dtype]
        self.folder = Path(root) / f"{settings.kind}-{settings.key()}-{dtype}"
        self.folder.mkdir(parents=True, exist_ok=True)

    def path_for(self, ref: AudioRef) -> Path:
        """Where the features of `ref` are (or will be) stored."""
        digest = hashlib.sha1(audio_identity(ref).encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}.npy"

    def load(self, path: Path) -> np.ndarray:
        """Load stored frames as float32 (time-major)."""
        return np.load(path).astype(np.float32, copy=False)

    def frame_count(self, path: Path) -> int:
        """Number of stored frames (read from the .npy header; the data is memory-mapped, not loaded)."""
        return int(np.load(path, mmap_mode="r").shape[0])

    def save(self, path: Path, frames: np.ndarray) -> None:
        """Store frames atomically (write a temp file, then rename), so readers never see half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            np.save(handle, frames.astype(self.dtype))
        os.replace(handle.name, path)

    def disk_bytes(self) -> int:
        """Bytes used by this store."""
        return sum(p.stat().st_size for p in self.folder.rglob("*.npy"))
