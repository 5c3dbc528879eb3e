"""The Whisper family: Whisper and distil-whisper (encoder-decoder, log-mel features in a 30-s window).

Loading (hub id | bundled offline copy | local HF or CTranslate2 folder | a run's .ckpt) is
models.loading; labels carry the decoder prompt (families.whisper_labels); features are Whisper's
log-mels, stored trimmed and padded back to the window at batch time; the task trains on cross-entropy
and evaluates by generation (tasks.whisper), optionally reading the frozen encoder prefix from the
encoder-output cache. Short clips can be packed into 30-s windows (data.packing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from whisper_exp.config.schema import ConfigError, RunConfig
from whisper_exp.data.collate import Batch, batch_counts, pad_labels
from whisper_exp.data.features import LogMelFeaturizer, pad_features
from whisper_exp.families.base import DataParts, Family, Loaded, Transcripts, text_normaliser
from whisper_exp.families.whisper_labels import WhisperLabeller
from whisper_exp.finetune import FinetuneResult
from whisper_exp.finetune.freezing import LayerMap
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.models.encoder_cache import build_encoder_cache
from whisper_exp.models.loading import configure_generation, load_whisper
from whisper_exp.tasks.base import ASRTask
from whisper_exp.tasks.whisper import WhisperTask
from whisper_exp.transcribe.backends import Backend, HfBackend

log = logging.getLogger(__name__)

# Whisper's encoder window: every input is padded (or cut) to 30 s.
WINDOW_SECONDS = 30.0

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


WHISPER_LAYERS = LayerMap(
    encoder=lambda model: model.get_encoder(),
    layers=lambda model: model.get_encoder().layers,
    stem=lambda model: (model.get_encoder().conv1, model.get_encoder().conv2, model.get_encoder().embed_positions),
    # The encoder's sinusoidal positions were never trained: they stay frozen in every mode.
    fixed=lambda model: (getattr(model.get_encoder(), "embed_positions", None),),
    # Tied to the token embedding in Whisper; frozen explicitly in case a checkpoint unties it.
    decoder=lambda model: (model.get_decoder(), model.get_output_embeddings()),
)


class WhisperFamily(Family):
    """Whisper / distil-whisper (see module doc)."""

    name = "whisper"
    layer_map = WHISPER_LAYERS
    supports_packing = True
    supports_encoder_cache = True
    max_seconds = WINDOW_SECONDS
    export_formats = ("hf", "ct2", "ggml")
    supports_long_form = True

    def check(self, run: RunConfig) -> None:
        super().check(run)
        packing = run.data.packing
        if packing.enabled and packing.max_seconds > WINDOW_SECONDS:
            raise ConfigError(f"data.packing.max_seconds={packing.max_seconds} must be <= {WINDOW_SECONDS:g} "
                              "(Whisper's window)")

    def load(self, run: RunConfig, transcripts: Transcripts, load_kwargs: dict[str, Any]) -> Loaded:
        loaded = load_whisper(run.model, run.cache_dir, load_kwargs=load_kwargs)
        configure_generation(loaded.model, english_only=run.model.english_only, language=run.generation.language,
                             task=run.generation.task)
        return Loaded(model=loaded.model, processor=loaded.processor, source=loaded.source,
                      base_path=loaded.base_path)

    def data_parts(self, run: RunConfig, loaded: Loaded) -> DataParts:
        extractor = loaded.processor.feature_extractor
        if extractor.feature_size != run.model.num_mel_bins:
            log.warning("model.num_mel_bins=%d but the checkpoint's feature extractor uses %d: using the checkpoint's",
                        run.model.num_mel_bins, extractor.feature_size)
        labeller = WhisperLabeller(loaded.processor.tokenizer, english_only=run.model.english_only,
                                   language=run.model.language, task=run.model.task,
                                   leading_space=run.data.label_leading_space)
        return DataParts(featurizer=LogMelFeaturizer(extractor), labeller=labeller,
                         collate=WhisperCollator(extractor.nb_max_frames),
                         max_label_tokens=run.model.max_target_positions, timed_labeller=labeller.timed)

    def task(self, run: RunConfig, loaded: Loaded, tuned: FinetuneResult, checkpoint_meta: CheckpointMeta
             ) -> WhisperTask:
        tokenizer = loaded.processor.tokenizer
        return WhisperTask(loaded.model, tokenizer, optimizer=run.optimizer, generation=run.generation,
                           normaliser=text_normaliser(run, getattr(tokenizer, "english_spelling_normalizer", None)),
                           checkpoint_meta=checkpoint_meta,
                           encoder_cache=build_encoder_cache(loaded.model, run.finetune.encoder_cache,
                                                             tuned.frozen_layers, run.cache_dir))

    def long_form_backend(self, task: ASRTask, loaded: Loaded) -> Backend:
        """`transcribe`'s transformers backend over the task's model (sequential long-form decoding)."""
        return HfBackend.from_model(task.model, loaded.processor)


FAMILY = WhisperFamily()
