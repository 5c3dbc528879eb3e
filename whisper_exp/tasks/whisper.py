"""Whisper (and distil-whisper) as an encoder-decoder ASR task."""

from __future__ import annotations

import copy
import logging
import math

import torch
from transformers import PreTrainedTokenizerBase, WhisperForConditionalGeneration
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import BaseModelOutput

from whisper_exp.config.schema import GenerationConfig, OptimizerConfig
from whisper_exp.data.collate import Batch
from whisper_exp.metrics.wer import Normaliser
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.models.encoder_cache import EncoderOutputCache, encoder_suffix
from whisper_exp.tasks.base import ASRTask


class _LibraryGenerateNotice(logging.Filter):
    """Drops one deprecation notice that transformers 5 raises against itself: WhisperForConditionalGeneration
    .generate hands `suppress_tokens`/`begin_suppress_tokens` to the parent generate next to its own
    generation_config (a workaround in the library), which the parent then reports as a user mixing the two.
    Ours passes a generation config and model inputs only; every other generation notice still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("generation-related arguments" in message and "suppress_tokens" in message)


logging.getLogger("transformers.generation.utils").addFilter(_LibraryGenerateNotice())


def generation_limit(generation: GenerationConfig, durations: list[float] | None) -> int:
    """Tokens a batch may generate: max_new_tokens, or less with `tokens_per_second` and known clip durations."""
    known = [seconds for seconds in durations or () if math.isfinite(seconds) and seconds > 0]
    if generation.tokens_per_second is None or not known:
        return generation.max_new_tokens
    scaled = generation.tokens_margin + math.ceil(generation.tokens_per_second * max(known))
    return min(generation.max_new_tokens, scaled)


class WhisperTask(ASRTask):
    """Cross-entropy on label tokens for training; greedy/beam generation for evaluation."""

    def __init__(
        self,
        model: WhisperForConditionalGeneration,
        tokenizer: PreTrainedTokenizerBase,
        *,
        optimizer: OptimizerConfig,
        generation: GenerationConfig,
        normaliser: Normaliser,
        checkpoint_meta: CheckpointMeta | None = None,
        encoder_cache: EncoderOutputCache | None = None,
    ) -> None:
        super().__init__(model, optimizer, normaliser, generation.log_examples, checkpoint_meta)
        self.tokenizer = tokenizer
        self.generation = generation
        # A per-task copy (language/task as models.loading.configure_generation set them; the checkpoint's own,
        # max_length 448, is kept for export). Whisper's generate counts max_length after the prompt tokens (sot,
        # language, task, notimestamps), so it caps the *new* tokens: setting max_new_tokens instead makes
        # transformers 5 warn on every batch that both are set.
        self.generation_config = copy.deepcopy(model.generation_config)
        self.generation_config.max_new_tokens = None
        self.generation_config.max_length = generation.max_new_tokens
        self.generation_config.num_beams = generation.num_beams
        self.generation_config.use_cache = True
        self.encoder_cache = encoder_cache

    def encode(self, features: torch.Tensor) -> BaseModelOutput:
        """Encoder outputs; with the cache, the frozen prefix is read from disk and only the rest runs."""
        encoder = self.model.get_encoder()
        if self.encoder_cache is None:
            return encoder(features)
        hidden = self.encoder_cache.prefix_outputs(features)
        return BaseModelOutput(last_hidden_state=encoder_suffix(encoder, hidden, self.encoder_cache.depth))

    def compute_loss(self, batch: Batch) -> torch.Tensor:
        if self.encoder_cache is None:
            return self.model(input_features=batch["input_features"], labels=batch["labels"]).loss
        return self.model(encoder_outputs=self.encode(batch["input_features"]), labels=batch["labels"]).loss

    def speed_stats(self) -> dict:
        return {"encoder_cache": self.encoder_cache.stats()} if self.encoder_cache is not None else {}

    @torch.no_grad()
    def transcribe(self, batch: Batch, encoder_outputs: BaseModelOutput | None = None,
                   cross_attention_cache: DynamicCache | None = None) -> list[str]:
        """Generated text per clip; `cross_attention_cache`: the decoder's keys/values of these encoder outputs."""
        features = batch["input_features"]
        # Whisper inputs are never padded within the 30 s window, so every frame is attended.
        mask = torch.ones(features.shape[0], features.shape[-1], dtype=torch.long, device=features.device)
        extra: dict = {"encoder_outputs": encoder_outputs} if encoder_outputs is not None else {}
        if cross_attention_cache is not None:
            extra["cache"] = EncoderDecoderCache(DynamicCache(), cross_attention_cache)
        limit = generation_limit(self.generation, batch.get("durations"))
        config = self.generation_config
        if limit != config.max_length:
            config = copy.copy(config)
            config.max_length = limit
        tokens = self.model.generate(features, attention_mask=mask, generation_config=config, **extra)
        return self.tokenizer.batch_decode(tokens, skip_special_tokens=True)

    @torch.no_grad()
    def loss_and_transcribe(self, batch: Batch) -> tuple[torch.Tensor, list[str]]:
        """One encoder pass serves both the eval loss and generation (the encoder is most of the cost).

        With greedy decoding, generation also reuses the cross-attention keys/values that the loss pass
        projected from the encoder outputs (≈ 6 % of tiny's eval time on CPU); beam search expands the
        batch, so it projects its own.
        """
        encoder_outputs = self.encode(batch["input_features"])
        greedy = self.generation_config.num_beams == 1
        output = self.model(encoder_outputs=encoder_outputs, labels=batch["labels"], use_cache=greedy)
        cross = output.cache.cross_attention_cache if greedy else None
        return output.loss, self.transcribe(batch, encoder_outputs=encoder_outputs, cross_attention_cache=cross)
