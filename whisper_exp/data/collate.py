"""Batch assembly: Whisper pads log-mels to the encoder's fixed window; CTC pads waveforms to the batch's longest.

`Batch` is the contract between collators (here and in the families), tasks and callbacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
import torch

from whisper_exp.data.features import pad_features

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


def pad_labels(labels: Sequence[Sequence[int]], pad: int = LABEL_PAD) -> torch.Tensor:
    """Right-pad label id lists into a (batch, longest) tensor."""
    longest = max((len(ids) for ids in labels), default=0)
    out = torch.full((len(labels), longest), pad, dtype=torch.long)
    for row, ids in enumerate(labels):
        out[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
    return out


def batch_counts(items: Sequence[dict]) -> Batch:
    """Utterances and seconds of audio in a batch (a packed window counts all the utterances it holds)."""
    return {"n_utterances": sum(int(item.get("n_utterances", 1)) for item in items),
            "audio_seconds": float(sum(item.get("duration") or 0.0 for item in items))}


class WhisperCollator:
    """Turns SpeechSplit items into model inputs.

    Labels carry the decoder prompt after start-of-transcript (language, task, no-timestamps),
    the text and end-of-text; the model prepends start-of-transcript itself when it shifts the
    labels right, so it is never doubled.
    """

    def __init__(self, n_frames: int) -> None:
        self.n_frames = n_frames

    def __call__(self, items: Sequence[dict]) -> Batch:
        features = np.stack([pad_features(item["features"], self.n_frames) for item in items])
        return {
            "input_features": torch.from_numpy(features),
            "labels": pad_labels([item["labels"] for item in items]),
            "ids": [item["id"] for item in items],
            "texts": [item["text"] for item in items],
            "sources": [item["source"] for item in items],
            **batch_counts(items),
        }


class CTCCollator:
    """Raw-waveform batches for CTC models: padded to the longest clip of the batch (no fixed window).

    `padding_value` is the feature extractor's (0.0); the attention mask is returned only for checkpoints
    trained with one (`return_attention_mask`): group-norm feature encoders such as wav2vec2-base must see
    plain zero padding instead. Labels are padded with -100 (ignored by the CTC loss); `input_lengths` lets
    decoding ignore the frames of the padding.
    """

    def __init__(self, padding_value: float, return_attention_mask: bool) -> None:
        self.padding_value = padding_value
        self.return_attention_mask = return_attention_mask

    def __call__(self, items: Sequence[dict]) -> Batch:
        lengths = [len(item["features"]) for item in items]
        values = torch.full((len(items), max(lengths)), self.padding_value, dtype=torch.float32)
        mask = torch.zeros((len(items), max(lengths)), dtype=torch.long)
        for row, item in enumerate(items):
            values[row, : lengths[row]] = torch.from_numpy(np.asarray(item["features"], dtype=np.float32))
            mask[row, : lengths[row]] = 1
        batch: Batch = {
            "input_values": values,
            "input_lengths": torch.tensor(lengths, dtype=torch.long),
            "labels": pad_labels([item["labels"] for item in items]),
            "ids": [item["id"] for item in items],
            "texts": [item["text"] for item in items],
            "sources": [item["source"] for item in items],
            **batch_counts(items),
        }
        if self.return_attention_mask:
            batch["attention_mask"] = mask
        return batch
