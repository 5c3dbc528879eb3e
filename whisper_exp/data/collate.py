"""Batch assembly for Whisper: pad log-mels to the encoder's fixed window, pad labels with -100."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from whisper_exp.data.features import pad_features

LABEL_PAD = -100  # ignored by the cross-entropy loss


def pad_labels(labels: Sequence[Sequence[int]], pad: int = LABEL_PAD) -> torch.Tensor:
    """Right-pad label id lists into a (batch, longest) tensor."""
    longest = max((len(ids) for ids in labels), default=0)
    out = torch.full((len(labels), longest), pad, dtype=torch.long)
    for row, ids in enumerate(labels):
        out[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
    return out


class WhisperCollator:
    """Turns SpeechSplit items into model inputs.

    Labels carry the decoder prompt after start-of-transcript (language, task, no-timestamps),
    the text and end-of-text; the model prepends start-of-transcript itself when it shifts the
    labels right, so it is never doubled.
    """

    def __init__(self, n_frames: int) -> None:
        self.n_frames = n_frames

    def __call__(self, items: Sequence[dict]) -> dict:
        features = np.stack([pad_features(item["features"], self.n_frames) for item in items])
        return {
            "input_features": torch.from_numpy(features),
            "labels": pad_labels([item["labels"] for item in items]),
            "ids": [item["id"] for item in items],
            "texts": [item["text"] for item in items],
            "sources": [item["source"] for item in items],
        }
