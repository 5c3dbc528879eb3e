"""Batches: the `Batch` contract between collators, tasks and callbacks, and the helpers every collator uses.

Each model family brings its collator (whisper_exp/families: Whisper pads log-mels to the encoder's fixed
window; the CTC families pad to the batch's longest clip).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import torch

LABEL_PAD = -100  # ignored by the cross-entropy loss


class Batch(TypedDict, total=False):
    """One batch as collators build it: the model inputs of its family, labels, and what the loops and
    callbacks read (ids, reference texts and sources for scoring; utterance and audio counts for throughput)."""

    # Model inputs (those of the batch's family).
    input_features: torch.Tensor  # log-mels: Whisper (batch, mels, frames); Parakeet (batch, frames, mels)
    input_values: torch.Tensor  # raw waveforms (wav2vec2-style CTC)
    input_lengths: torch.Tensor  # samples per clip before padding (CTC decoding reads only a clip's own frames)
    attention_mask: torch.Tensor
    labels: torch.Tensor  # (batch, longest) label ids, LABEL_PAD beyond each item's end
    # Per item: id, reference transcript, source name.
    ids: list[str]
    texts: list[str]
    sources: list[str]
    # Utterances in the batch (a packed window counts every clip it holds) and seconds of audio.
    n_utterances: int
    audio_seconds: float
    # Seconds of audio per item (evaluation's duration-scaled generation limit reads the longest).
    durations: list[float]


def pad_labels(labels: Sequence[Sequence[int]], pad: int = LABEL_PAD) -> torch.Tensor:
    """Right-pad label id lists into a (batch, longest) tensor."""
    longest = max((len(ids) for ids in labels), default=0)
    out = torch.full((len(labels), longest), pad, dtype=torch.long)
    for row, ids in enumerate(labels):
        out[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
    return out


def batch_counts(items: Sequence[dict]) -> Batch:
    """Utterances and seconds of audio in a batch (a packed window counts all the utterances it holds)."""
    durations = [float(item.get("duration") or 0.0) for item in items]
    return {"n_utterances": sum(int(item.get("n_utterances", 1)) for item in items),
            "audio_seconds": float(sum(durations)), "durations": durations}
