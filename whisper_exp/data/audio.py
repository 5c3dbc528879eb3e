"""Audio decoding: any file or byte string soundfile reads → mono float32 at the target rate.

We decode with soundfile (libsndfile: wav/flac/ogg/mp3) and resample with soxr instead of
letting `datasets` decode, because datasets 5.x decodes through torchcodec, whose current
PyPI builds do not load beside a CPU torch. Sources therefore keep `Audio(decode=False)`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr


class AudioError(ValueError):
    """Audio that cannot be used: missing, unreadable, empty or not finite."""


@dataclass(frozen=True)
class AudioRef:
    """Where a clip's audio lives: a file path, or encoded bytes (hub parquet/arrow)."""

    path: str | None = None
    data: bytes | None = None

    @property
    def label(self) -> str:
        """A human-readable name for error messages."""
        return self.path or "<embedded audio bytes>"

    @classmethod
    def from_datasets(cls, value: dict[str, Any]) -> AudioRef:
        """Build from a `datasets.Audio(decode=False)` value: {"path": …, "bytes": …}."""
        return cls(path=value.get("path"), data=value.get("bytes"))


def _open(ref: AudioRef) -> Any:
    if ref.data is not None:
        return io.BytesIO(ref.data)
    if ref.path is None:
        raise AudioError("audio entry has neither a path nor bytes")
    if not Path(ref.path).is_file():
        raise AudioError(f"audio file not found: {ref.path}")
    return ref.path


def audio_duration(ref: AudioRef) -> float:
    """Duration in seconds from the file header (cheap: no decoding)."""
    try:
        info = sf.info(_open(ref))
    except AudioError:
        raise
    except Exception as err:  # libsndfile raises several types; all mean "unreadable"
        raise AudioError(f"cannot read audio header of {ref.label}: {err}") from err
    if info.samplerate <= 0:
        raise AudioError(f"invalid sample rate {info.samplerate} in {ref.label}")
    return info.frames / info.samplerate


def load_audio(ref: AudioRef, target_sr: int) -> np.ndarray:
    """Decode `ref` to a 1-D float32 array at `target_sr` Hz (stereo is averaged to mono).

    Raises AudioError naming the file for missing, corrupt, zero-length or non-finite audio.
    """
    try:
        samples, sr = sf.read(_open(ref), dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as err:
        raise AudioError(f"cannot decode audio {ref.label}: {err}") from err
    if samples.shape[0] == 0:
        raise AudioError(f"audio has zero length: {ref.label}")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if not np.isfinite(mono).all():
        raise AudioError(f"audio contains NaN or infinite samples: {ref.label}")
    if sr != target_sr:
        mono = soxr.resample(mono, sr, target_sr, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)
