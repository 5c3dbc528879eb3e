"""30-second packing: consecutive short utterances share one Whisper training window.

Whisper's encoder always sees 30 s; a 5-second clip is 83 % padding, so most training compute is
spent on silence. Packing (as distil-whisper does for its pseudo-labelled data) concatenates
utterances, in a seeded order, into windows of at most `max_seconds` with their transcripts joined
by a space — how Whisper sees consecutive speech in a long recording without timestamps — so the
encoder's work covers real audio. The decoder then learns to transcribe several utterances in a row.

How a window is built, from the stored features (data.features): each clip's log-mel frames that
carry audio, then `gap_seconds` of silence frames, then the next clip; the rest of the window is the
padding value Whisper's extractor would give (features.pad_features). Frames are normalised per clip
by the extractor (its clamp floor is per clip), so a window differs from the log-mels of the joined
audio only in quiet frames near a clip's floor; the labels are the labeller's output for the joined
text, so they are exactly what Whisper would be taught for that window. A window never exceeds the
frame budget or the label budget (model.max_target_positions); a clip alone over either budget is
left as its own window (the filters already bound both). Training only: evaluation stays per clip,
so WER is comparable with an unpacked run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from torch.utils.data import Dataset as TorchDataset

from whisper_exp.config.schema import PackingConfig
from whisper_exp.data.features import padding_floor
from whisper_exp.data.pipeline import SpeechSplit
from whisper_exp.data.timestamps import Placement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """One packed training example: indices into the split, in the order they are heard."""

    members: tuple[int, ...]
    labels: tuple[int, ...]
    frames: int


def joined_text(texts: Sequence[str]) -> str:
    """Transcripts of consecutive utterances, as one transcript."""
    return " ".join(" ".join(text.split()) for text in texts)


def plan_windows(frame_counts: Sequence[int], texts: Sequence[str], order: Sequence[int],
                 labeller: Callable[[str], list[int]], *, max_frames: int, gap_frames: int,
                 max_label_tokens: int) -> list[Window]:
    """Greedy packing of `order` into windows within the frame and label budgets (order is kept)."""
    windows: list[Window] = []
    members: list[int] = []
    frames = 0
    labels: list[int] = []
    for index in order:
        added_frames = frame_counts[index] + (gap_frames if members else 0)
        candidate = labeller(joined_text([texts[i] for i in [*members, index]]))
        if members and (frames + added_frames > max_frames or len(candidate) > max_label_tokens):
            windows.append(Window(tuple(members), tuple(labels), frames))
            members, frames = [], 0
            added_frames = frame_counts[index]
            candidate = labeller(joined_text([texts[index]]))
        members.append(index)
        frames += added_frames
        labels = candidate
    if members:
        windows.append(Window(tuple(members), tuple(labels), frames))
    return windows


class PackedSplit(TorchDataset):
    """Training windows over a prepared split; items look like SpeechSplit items (plus `n_utterances`)."""

    def __init__(self, split: SpeechSplit, labeller: Callable[[str], list[int]], settings: PackingConfig, *,
                 max_label_tokens: int, seed: int, frames_per_second: float) -> None:
        """`frames_per_second`: the log-mel frame rate of the split's features (LogMelSettings.frames_per_second)."""
        self.split = split
        self.gap_frames = round(settings.gap_seconds * frames_per_second)
        self.max_frames = round(settings.max_seconds * frames_per_second)
        self.frame_counts = [split.frame_count(i) for i in range(len(split))]
        order = np.random.default_rng(seed).permutation(len(split)).tolist()
        self.windows = plan_windows(self.frame_counts, split.texts, order, labeller, max_frames=self.max_frames,
                                    gap_frames=self.gap_frames, max_label_tokens=max_label_tokens)
        per_window = len(split) / max(1, len(self.windows))
        fill = sum(w.frames for w in self.windows) / max(1, len(self.windows) * self.max_frames)
        log.info("packing: %d utterances → %d windows of ≤ %.0f s (%.1f utterances and %.0f%% audio per window)",
                 len(split), len(self.windows), settings.max_seconds, per_window, 100 * fill)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict:
        window = self.windows[index]
        parts = [self.split.features(i) for i in window.members]
        floor = padding_floor(np.concatenate(parts))
        gap = np.full((self.gap_frames, parts[0].shape[1]), floor, dtype=parts[0].dtype)
        pieces: list[np.ndarray] = []
        for position, frames in enumerate(parts):
            if position:
                pieces.append(gap)
            pieces.append(frames)
        return {"features": np.concatenate(pieces),
                "labels": list(window.labels),
                "text": joined_text([self.split.texts[i] for i in window.members]),
                "id": "+".join(self.split.ids[i] for i in window.members),
                "source": self.split.sources[window.members[0]],
                "duration": float(sum(self.split.durations[i] for i in window.members)),
                "n_utterances": len(window.members)}

    def audio_seconds(self) -> float:
        """Total audio in the windows (the split's)."""
        return self.split.audio_seconds()

    def layout(self, index: int) -> list[Placement]:
        """Where each utterance of window `index` starts, in frames (as `__getitem__` lays them out)."""
        placements, offset = [], 0
        for member in self.windows[index].members:
            placements.append(Placement(member, offset))
            offset += self.frame_counts[member] + self.gap_frames
        return placements

    def set_labels(self, index: int, labels: list[int]) -> None:
        """Replace the label ids of window `index` (data.timestamps)."""
        self.windows[index] = replace(self.windows[index], labels=tuple(labels))
