"""The LightningModule shared by every model family: loops, metrics, logging, optimisers.

A family (Whisper seq2seq, CTC) implements two methods — `compute_loss(batch)` and
`transcribe(batch)` — and inherits the rest: training loss logging, teacher-forced eval loss,
transcription of every eval batch, WER/CER (overall and per source) gathered across ranks,
sample prediction tables, and the optimiser built from the optimizer group.

Several named evaluation sets (`eval_sets`, e.g. {"val": ["dev-clean", "dev-other"]}, one loader each,
in order): each set is scored alone and logged as ``val/<set>/wer`` …; the first (primary) set is
also logged under ``val/wer`` … (the best-checkpoint monitor) and reported as ``reports["val"]``.
Every scored set also logs the hallucination metrics (``<prefix>/insertion_rate`` …, metrics.hallucination).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass, field

import lightning as L
import torch
import torch.distributed as dist

from whisper_exp.config.schema import EvalConfig, OptimizerConfig
from whisper_exp.data.collate import Batch
from whisper_exp.evaluation import breakdown, breakdown_metrics
from whisper_exp.metrics.hallucination import HallucinationReport, hallucination_report
from whisper_exp.metrics.wer import Normaliser, WerReport, score
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.training.optim import build_optimizer

log = logging.getLogger(__name__)



@dataclass
class EvalAccumulator:
    """Predictions and references of one evaluation pass."""

    predictions: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    loss_sum: float = 0.0
    loss_count: int = 0

    def gathered(self) -> EvalAccumulator:
        """All ranks' items (identity on a single process)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return self
        parts: list[EvalAccumulator | None] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, self)
        merged = EvalAccumulator()
        seen: set[str] = set()
        for part in parts:
            assert part is not None
            # DistributedSampler pads the last round with repeated items: score every utterance once.
            for i, item_id in enumerate(part.ids):
                if item_id in seen:
                    continue
                seen.add(item_id)
                merged.predictions.append(part.predictions[i])
                merged.references.append(part.references[i])
                merged.sources.append(part.sources[i])
                merged.ids.append(item_id)
            merged.loss_sum += part.loss_sum
            merged.loss_count += part.loss_count
        return merged


class ASRTask(L.LightningModule):
    """Training/evaluation loops over `self.model`; subclasses define loss and decoding."""

    def __init__(self, model: torch.nn.Module, optimizer: OptimizerConfig, normaliser: Normaliser,
                 log_examples: int = 20, checkpoint_meta: CheckpointMeta | None = None) -> None:
        super().__init__()
        # from_pretrained returns eval mode; Lightning keeps each submodule's mode, and Whisper only
        # applies dropout and gradient checkpointing in train mode.
        self.model = model.train()
        self.optimizer_cfg = optimizer
        self.normaliser = normaliser
        self.log_examples = log_examples
        self.accumulators: dict[int, EvalAccumulator] = {}
        # Named evaluation sets per prefix ("val", "test"), in dataloader order; absent: one unnamed set.
        self.eval_sets: dict[str, list[str]] = {}
        self.reports: dict[str, WerReport] = {}
        self.examples: dict[str, list[dict[str, str]]] = {}
        # Stored in every checkpoint (where the base weights came from), so a .ckpt can be evaluated alone.
        self.checkpoint_meta = checkpoint_meta or CheckpointMeta()
        # Grouped WER + speaker-bootstrap intervals (whisper_exp/evaluation.py): the eval config and the
        # per-sample metadata the readers recorded (by sample id); None: no breakdown.
        self.eval_cfg: EvalConfig | None = None
        self.metadata: dict[str, dict[str, str]] = {}
        self.breakdowns: dict[str, dict] = {}
        # Hallucination metrics and every prediction by sample id, of each scored prefix (the last pass's).
        self.hallucination: dict[str, HallucinationReport] = {}
        self.predictions: dict[str, dict[str, str]] = {}

    @abstractmethod
    def compute_loss(self, batch: Batch) -> torch.Tensor:
        """Mean training loss of a batch."""

    @abstractmethod
    def transcribe(self, batch: Batch) -> list[str]:
        """Decoded text for each item of a batch."""

    def speed_stats(self) -> dict:
        """Counters of speed features (caches) for summary.json; empty when none is on."""
        return {}

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self.compute_loss(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"training loss is {loss.item()} at step {self.global_step}: lower the learning rate "
                f"(optimizer.lr, now {self.optimizer_cfg.lr:.3g}) or enable gradient clipping")
        self.log("train/loss", loss, on_step=True, prog_bar=True, batch_size=len(batch["ids"]))
        return loss

    def loss_and_transcribe(self, batch: Batch) -> tuple[torch.Tensor, list[str]]:
        """Teacher-forced loss and decoded text of an eval batch; families may share work between the two."""
        return self.compute_loss(batch), self.transcribe(batch)

    def _eval_step(self, batch: Batch, dataloader_idx: int = 0) -> None:
        loss, texts = self.loss_and_transcribe(batch)
        accumulator = self.accumulators.setdefault(dataloader_idx, EvalAccumulator())
        accumulator.loss_sum += float(loss) * len(batch["ids"])
        accumulator.loss_count += len(batch["ids"])
        accumulator.predictions += texts
        accumulator.references += batch["texts"]
        accumulator.sources += batch["sources"]
        accumulator.ids += batch["ids"]

    def _eval_start(self) -> None:
        self.accumulators = {}

    def _eval_end(self, prefix: str) -> None:
        names = self.eval_sets.get(prefix, [])
        if len(names) <= 1:
            self._score(prefix, self.accumulators.get(0, EvalAccumulator()))
            return
        for index, name in enumerate(names):
            accumulator = self.accumulators.get(index, EvalAccumulator())
            if index == 0:
                self._score(prefix, accumulator)  # the primary set: val/wer, the monitor
            self._score(f"{prefix}/{name}", accumulator)

    def _score(self, prefix: str, accumulator: EvalAccumulator) -> None:
        results = accumulator.gathered()
        report = score(results.predictions, results.references, self.normaliser, results.sources)
        self.reports[prefix] = report
        self.examples[prefix] = [
            {"id": i, "reference": r, "prediction": p}
            for i, r, p in list(zip(results.ids, results.references, results.predictions, strict=True))[
                : self.log_examples]
        ]
        metrics = {f"{prefix}/wer": report.wer, f"{prefix}/cer": report.cer, f"{prefix}/wer_ortho": report.wer_ortho}
        if results.loss_count:
            metrics[f"{prefix}/loss"] = results.loss_sum / results.loss_count
        metrics.update({f"{prefix}/wer_{source}": wer for source, wer in report.per_source.items()})
        self.predictions[prefix] = dict(zip(results.ids, results.predictions, strict=True))
        if self.eval_cfg is not None:
            found = hallucination_report(results.predictions, results.references, self.normaliser,
                                         self.eval_cfg.hallucination)
            self.hallucination[prefix] = found
            metrics.update({f"{prefix}/{name}": value for name, value in found.as_dict().items()
                            if name != "n_utterances"})
            self.breakdowns[prefix] = breakdown(results.predictions, results.references, results.ids,
                                                self.normaliser, self.metadata, self.eval_cfg)
            metrics.update(breakdown_metrics(prefix, self.breakdowns[prefix]))
        self.log_dict(metrics, sync_dist=False, batch_size=max(1, results.loss_count))
        log.info("%s: WER %.4f  CER %.4f  orthographic WER %.4f over %d utterances%s", prefix, report.wer,
                 report.cer, report.wer_ortho, report.n_utterances,
                 f" ({report.n_empty_references} empty references excluded)" if report.n_empty_references else "")

    def on_validation_epoch_start(self) -> None:
        self._eval_start()

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_step(batch, dataloader_idx)

    def on_validation_epoch_end(self) -> None:
        self._eval_end("val")

    def on_test_epoch_start(self) -> None:
        self._eval_start()

    def test_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_step(batch, dataloader_idx)

    def on_test_epoch_end(self) -> None:
        self._eval_end("test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        self.checkpoint_meta.write(checkpoint)

    def configure_optimizers(self) -> dict:
        trainer = self.trainer
        clipped_mixed = str(trainer.precision).endswith("-mixed") and bool(trainer.gradient_clip_val)
        return build_optimizer(self.model, self.optimizer_cfg, int(trainer.estimated_stepping_batches),
                               fused_allowed=not clipped_mixed)
