"""Whisper (and distil-whisper) as an encoder-decoder ASR task."""

from __future__ import annotations

import copy

import torch
from transformers import PreTrainedTokenizerBase, WhisperForConditionalGeneration

from whisper_exp.config.schema import GenerationConfig, OptimizerConfig
from whisper_exp.metrics.wer import Normaliser
from whisper_exp.tasks.base import ASRTask


class WhisperTask(ASRTask):
    """Cross-entropy on label tokens for training; greedy/beam generation for evaluation."""

    def __init__(
        self,
        model: WhisperForConditionalGeneration,
        tokenizer: PreTrainedTokenizerBase,
        *,
        optimizer: OptimizerConfig,
        generation: GenerationConfig,
        english_only: bool,
        normaliser: Normaliser,
        checkpoint_meta: dict | None = None,
    ) -> None:
        super().__init__(model, optimizer, normaliser, generation.log_examples, checkpoint_meta)
        self.tokenizer = tokenizer
        # A per-call copy: max_new_tokens replaces the checkpoint's max_length (448, kept for export).
        self.generation_config = copy.deepcopy(model.generation_config)
        self.generation_config.max_length = None
        self.generation_config.max_new_tokens = generation.max_new_tokens
        self.generation_config.num_beams = generation.num_beams
        self.generate_kwargs: dict = {}
        if not english_only:
            self.generate_kwargs.update(language=generation.language, task=generation.task)

    def compute_loss(self, batch: dict) -> torch.Tensor:
        return self.model(input_features=batch["input_features"], labels=batch["labels"]).loss

    @torch.no_grad()
    def transcribe(self, batch: dict) -> list[str]:
        features = batch["input_features"]
        # Whisper inputs are never padded within the 30 s window, so every frame is attended.
        mask = torch.ones(features.shape[0], features.shape[-1], dtype=torch.long, device=features.device)
        tokens = self.model.generate(features, attention_mask=mask, generation_config=self.generation_config,
                                     use_cache=True, **self.generate_kwargs)
        return self.tokenizer.batch_decode(tokens, skip_special_tokens=True)
