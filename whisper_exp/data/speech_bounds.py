"""Where speech starts and ends in a clip: energy-based trimming of leading and trailing silence.

The same rule as `librosa.effects.trim` (frames quieter than `threshold_db` below the loudest frame are
silence), applied to the clip's stored Whisper log-mel frames rather than its waveform: librosa is not a
dependency, and with the feature cache a clip's audio is never decoded again — the log-mels are all there is.
A log-mel frame is the power of a 25-ms window every 10 ms in each mel band; summed over the bands it is the
frame's energy (0–8 kHz). Whisper's extractor clamps log-mels 80 dB below the clip's peak, so thresholds up to
80 dB are meaningful. Silence *inside* the bounds (pauses between words) is kept: only the ends are trimmed.
"""

from __future__ import annotations

import numpy as np

# Whisper's log-mels are (log10(power) clamped at max - 8, + 4) / 4: this undoes the last step.
LOG10_SCALE = 4.0
LOG10_OFFSET = 4.0


def frame_energy_db(log_mels: np.ndarray) -> np.ndarray:
    """Energy in dB of each frame of Whisper log-mels (frames, mels), time-major as stored."""
    log_power = np.asarray(log_mels, dtype=np.float64) * LOG10_SCALE - LOG10_OFFSET
    peak = log_power.max(axis=1, keepdims=True)
    # log10 of the summed power, computed around each frame's peak (no overflow, no log of 0).
    return 10.0 * (peak[:, 0] + np.log10(np.power(10.0, log_power - peak).sum(axis=1)))


def speech_bounds(log_mels: np.ndarray, *, threshold_db: float, frames_per_second: float,
                  frame_seconds: float) -> tuple[float, float]:
    """(start, end) in seconds of the stretch from the first to the last non-silent frame.

    Energies are averaged over frames of `frame_seconds` (at least one log-mel hop); a clip with no frame above
    the threshold (all silence) spans the whole clip.
    """
    energy = frame_energy_db(log_mels)
    if energy.size == 0:
        return 0.0, 0.0
    hop = max(1, round(frame_seconds * frames_per_second))
    blocks = -(-len(energy) // hop)
    padded = np.full(blocks * hop, np.nan)
    padded[: len(energy)] = np.power(10.0, (energy - energy.max()) / 10.0)
    pooled = 10.0 * np.log10(np.maximum(np.nanmean(padded.reshape(blocks, hop), axis=1), 1e-30))
    loud = np.flatnonzero(pooled >= pooled.max() - threshold_db)
    start = loud[0] * hop / frames_per_second
    end = min(len(energy), (loud[-1] + 1) * hop) / frames_per_second
    return float(start), float(end)
