"""wav2vec2 / WavLM / HuBERT with a CTC head as an ASR task: CTC loss, greedy CTC decoding.

Everything else (loops, WER/CER, gathering, logging, optimisers) comes from tasks.base.ASRTask,
shared with Whisper.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel, Wav2Vec2CTCTokenizer

from whisper_exp.config.schema import OptimizerConfig
from whisper_exp.data.collate import Batch
from whisper_exp.metrics.wer import Normaliser
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.tasks.base import ASRTask


class CTCTask(ASRTask):
    """CTC loss on character labels for training; argmax per frame, repeats merged, blanks removed for evaluation."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: Wav2Vec2CTCTokenizer,
        *,
        optimizer: OptimizerConfig,
        normaliser: Normaliser,
        log_examples: int = 20,
        checkpoint_meta: CheckpointMeta | None = None,
    ) -> None:
        super().__init__(model, optimizer, normaliser, log_examples, checkpoint_meta)
        self.tokenizer = tokenizer

    def _forward(self, batch: Batch, labels: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        outputs = self.model(input_values=batch["input_values"], attention_mask=batch.get("attention_mask"),
                             labels=batch["labels"] if labels else None)
        return outputs.loss, outputs.logits

    def compute_loss(self, batch: Batch) -> torch.Tensor:
        loss, _ = self._forward(batch, labels=True)
        assert loss is not None
        return loss

    def decode(self, logits: torch.Tensor, input_lengths: torch.Tensor) -> list[str]:
        """Greedy CTC decoding of each item's own frames (not the batch padding's): the tokenizer merges
        repeated ids, drops the blank (pad) and maps the word delimiter to spaces."""
        frames = self.model._get_feat_extract_output_lengths(input_lengths).tolist()
        best = logits.argmax(dim=-1).cpu()
        return [self.tokenizer.decode(best[row, : int(n)]).strip() for row, n in enumerate(frames)]

    @torch.no_grad()
    def transcribe(self, batch: Batch) -> list[str]:
        _, logits = self._forward(batch, labels=False)
        return self.decode(logits, batch["input_lengths"])

    @torch.no_grad()
    def loss_and_transcribe(self, batch: Batch) -> tuple[torch.Tensor, list[str]]:
        """One forward pass gives both the eval loss and the frame logits to decode."""
        loss, logits = self._forward(batch, labels=True)
        assert loss is not None
        return loss, self.decode(logits, batch["input_lengths"])
