"""Audio decoding: any file or byte string soundfile reads → mono float32 at the target rate.

We decode with soundfile (libsndfile: wav/flac/ogg/mp3) and resample with soxr instead of
letting `datasets` decode, because datasets 5.x decodes through torchcodec, whose current
PyPI builds do not load beside a CPU torch. Sources therefore keep `Audio(decode=False)`.

A clip lives in a file, in encoded bytes (hub parquet/arrow), or inside a zip archive (IMDA
NSC ships one zip per speaker): ``zip://<member>::<archive path>``, the chained-URL form that
fsspec and `datasets` use. Decoded arrays from a source (e.g. a saved dataset of float64
arrays) are re-encoded losslessly as float32 WAV bytes (`encode_wav`), so every source reaches
the pipeline in the same form and decodes to the same dtype and rate. A decoded cell that cannot
be encoded (no rate, no samples) becomes an ``invalid://<why>`` path (`invalid_audio_path`): the
row stays in the table and is dropped, counted or raised, with that reason where every clip is
decoded, so one bad cell never fails a whole split.

Each AudioError carries the drop reason it is counted under (`AudioError.reason`): unreadable
audio (missing, corrupt, undecodable), zero-length audio, truncated audio (a WAV whose header
declares more sample data than the file holds), non-finite audio (NaN/inf samples).
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

ZIP_PREFIX = "zip://"
ZIP_SEPARATOR = "::"
INVALID_PREFIX = "invalid://"
UNREADABLE = "unreadable audio"
ZERO_LENGTH = "zero-length audio"
TRUNCATED = "truncated audio"
NON_FINITE = "non-finite audio"
# RIFF/WAVE header: "RIFF" <size> "WAVE", then chunks of <4-byte id> <little-endian uint32 size> <data>.
RIFF_HEADER_BYTES = 12
CHUNK_HEADER_BYTES = 8
# Decoded (channels, frames) arrays as `datasets` gives with Audio(mono=False) have at most this many channels.
MAX_CHANNELS = 8


class AudioError(ValueError):
    """Audio that cannot be used; `reason` is the drop reason it is counted under."""

    def __init__(self, message: str, reason: str = UNREADABLE) -> None:
        super().__init__(message)
        self.reason = reason


def invalid_audio_path(error: AudioError) -> str:
    """A path that stands for a cell whose audio could not be taken: decoding it raises `error` again."""
    return f"{INVALID_PREFIX}{error.reason}: {error}"


def zip_member_path(archive: str | Path, member: str) -> str:
    """The path of `member` inside the zip `archive`, as AudioRef.path understands it."""
    return f"{ZIP_PREFIX}{member}{ZIP_SEPARATOR}{archive}"


def split_zip_path(path: str) -> tuple[str, str] | None:
    """(archive, member) for a ``zip://member::archive`` path, else None."""
    if not path.startswith(ZIP_PREFIX) or ZIP_SEPARATOR not in path:
        return None
    member, archive = path[len(ZIP_PREFIX):].split(ZIP_SEPARATOR, 1)
    return archive, member


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


def _read_zip_member(archive: str, member: str) -> bytes:
    if not Path(archive).is_file():
        raise AudioError(f"audio archive not found: {archive}")
    try:
        with zipfile.ZipFile(archive) as handle:
            return handle.read(member)
    except KeyError as err:
        raise AudioError(f"audio file not found: {member} in {archive}") from err
    except (zipfile.BadZipFile, OSError) as err:
        raise AudioError(f"cannot read zip archive {archive}: {err}") from err


def check_valid(ref: AudioRef) -> None:
    """Raise the AudioError recorded for a cell that `harmonise` could not turn into audio."""
    if ref.data is None and ref.path is not None and ref.path.startswith(INVALID_PREFIX):
        reason, message = ref.path[len(INVALID_PREFIX):].split(": ", 1)
        raise AudioError(message, reason)


def _open(ref: AudioRef) -> Any:
    check_valid(ref)
    if ref.data is not None:
        return io.BytesIO(ref.data)
    if ref.path is None:
        raise AudioError("audio entry has neither a path nor bytes")
    in_zip = split_zip_path(ref.path)
    if in_zip is not None:
        return io.BytesIO(_read_zip_member(*in_zip))
    if not Path(ref.path).is_file():
        raise AudioError(f"audio file not found: {ref.path}")
    return ref.path


def encode_wav(samples: Any, sampling_rate: int) -> bytes:
    """Encode a decoded clip (any float/int array, mono or (frames, channels)) as float32 WAV bytes.

    Lossless for float32 input; float64 is narrowed to float32, the dtype every clip is decoded to.
    """
    array = np.asarray(samples)
    if array.dtype.kind not in "fiu":
        raise AudioError(f"decoded audio has dtype {array.dtype}; expected numbers")
    if array.size == 0:
        raise AudioError("decoded audio has zero length", ZERO_LENGTH)
    if array.ndim == 2 and array.shape[0] <= MAX_CHANNELS < array.shape[1]:
        array = array.T  # (channels, frames), as datasets decodes with mono=False → soundfile's (frames, channels)
    if array.ndim > 2:
        raise AudioError(f"decoded audio has shape {array.shape}; expected (frames,) or (frames, channels)")
    if sampling_rate is None or int(sampling_rate) <= 0:
        raise AudioError(f"decoded audio has an invalid sampling rate {sampling_rate!r}")
    buffer = io.BytesIO()
    sf.write(buffer, array.astype(np.float32, copy=False), int(sampling_rate), format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def _wav_shortfall(handle: Any) -> int:
    """Bytes of sample data a RIFF/WAVE header declares but the file lacks (0 for other formats).

    libsndfile silently reads what is there when a WAV is cut short, so the header is checked
    here; the stdlib `wave` module would do it but rejects float and extensible WAVs.
    """
    if isinstance(handle, str):
        with open(handle, "rb") as opened:
            return _wav_shortfall(opened)
    start = handle.tell()
    try:
        head = handle.read(RIFF_HEADER_BYTES)
        if len(head) < RIFF_HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        while True:
            chunk = handle.read(CHUNK_HEADER_BYTES)
            if len(chunk) < CHUNK_HEADER_BYTES:
                return 0
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"data":
                here = handle.tell()
                end = handle.seek(0, io.SEEK_END)
                return max(0, size - (end - here)) if size != 0xFFFFFFFF else 0  # 0xFFFFFFFF: streamed, unknown
            handle.seek(size + (size & 1), io.SEEK_CUR)
    finally:
        handle.seek(start)


def _checked_open(ref: AudioRef) -> Any:
    """`_open`, and an AudioError (truncated audio) for a WAV whose data is shorter than its header says."""
    handle = _open(ref)
    try:
        shortfall = _wav_shortfall(handle)
    except OSError as err:
        raise AudioError(f"cannot read audio {ref.label}: {err}") from err
    if shortfall:
        raise AudioError(f"truncated WAV: the header declares {shortfall} more bytes of samples than the file "
                         f"holds: {ref.label}", TRUNCATED)
    return handle


def audio_duration(ref: AudioRef) -> float:
    """Duration in seconds from the file header (cheap: no decoding); zero-length and truncated WAVs raise."""
    try:
        info = sf.info(_checked_open(ref))
    except AudioError:
        raise
    except Exception as err:  # libsndfile raises several types; all mean "unreadable"
        raise AudioError(f"cannot read audio header of {ref.label}: {err}") from err
    if info.samplerate <= 0:
        raise AudioError(f"invalid sample rate {info.samplerate} in {ref.label}")
    if info.frames == 0:
        raise AudioError(f"audio has zero length: {ref.label}", ZERO_LENGTH)
    return info.frames / info.samplerate


def load_audio(ref: AudioRef, target_sr: int) -> np.ndarray:
    """Decode `ref` to a 1-D float32 array at `target_sr` Hz (stereo is averaged to mono).

    Raises AudioError naming the file for missing, corrupt, zero-length or non-finite audio.
    """
    try:
        samples, sr = sf.read(_checked_open(ref), dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as err:
        raise AudioError(f"cannot decode audio {ref.label}: {err}") from err
    if samples.shape[0] == 0:
        raise AudioError(f"audio has zero length: {ref.label}", ZERO_LENGTH)
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if not np.isfinite(mono).all():
        raise AudioError(f"audio contains NaN or infinite samples: {ref.label}", NON_FINITE)
    if sr != target_sr:
        mono = soxr.resample(mono, sr, target_sr, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)
