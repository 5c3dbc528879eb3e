"""The Lightning DataModule: prepared splits and their loaders.

It knows audio, text and batching; the model side hands it a feature extractor and a
labeller (text → label ids), so the same module serves Whisper and CTC models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader
from transformers import WhisperFeatureExtractor

from whisper_exp.config.schema import DataConfig
from whisper_exp.data.errors import DropCounter
from whisper_exp.data.features import FeatureStore, LogMelSettings
from whisper_exp.data.pipeline import SpeechSplit, build_split

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


class SpeechDataModule(L.LightningDataModule):
    """Builds each split once (lazily) and serves DataLoaders over it."""

    def __init__(
        self,
        data: DataConfig,
        *,
        extractor: WhisperFeatureExtractor,
        labeller: Callable[[str], list[int]],
        collate: Callable,
        max_label_tokens: int,
        cache_dir: str | Path,
        seed: int,
    ) -> None:
        super().__init__()
        self.data = data
        self.extractor = extractor
        self.labeller = labeller
        self.collate = collate
        self.max_label_tokens = max_label_tokens
        self.seed = seed
        self.drops = DropCounter()
        self.store = (FeatureStore(Path(cache_dir) / "features", LogMelSettings.from_extractor(extractor),
                                   data.features.dtype) if data.features.cache else None)
        self.splits: dict[str, SpeechSplit] = {}

    def split(self, name: str) -> SpeechSplit:
        """The prepared split `name`, built on first use."""
        if name not in self.splits:
            self.splits[name] = build_split(
                self.data, name, extractor=self.extractor, labeller=self.labeller,
                max_label_tokens=self.max_label_tokens, store=self.store, seed=self.seed, drops=self.drops)
            prepared = self.splits[name]
            log.info("%s: %d samples, %.1f min of audio", name, len(prepared), prepared.audio_seconds() / 60)
            self.drops.log_summary(f"data ({name})")
        return self.splits[name]

    def setup(self, stage: str | None = None) -> None:
        """Prepare the splits the stage needs."""
        needed = {"fit": ("train", "validation"), "validate": ("validation",), "test": ("test",)}
        for name in needed.get(stage or "fit", SPLITS):
            self.split(name)

    def _loader(self, name: str, batch_size: int, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(self.split(name), batch_size=batch_size, shuffle=shuffle, generator=generator,
                          collate_fn=self.collate, num_workers=self.data.num_workers,
                          persistent_workers=self.data.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.data.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", self.data.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.data.eval_batch_size, shuffle=False)
