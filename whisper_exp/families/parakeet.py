"""The Parakeet family: NVIDIA Parakeet CTC (FastConformer encoder + CTC head over sentencepiece tokens).

A different shape from the wav2vec2-style CTC family: log-mel features (not the waveform), an 8x
subsampling FastConformer encoder, and a subword vocabulary that ships with the checkpoint (its
tokenizer; the blank is the pad token). Transformers' `ParakeetForCTC`, `ParakeetFeatureExtractor`
and `ParakeetTokenizer` do the modelling; this module wires them into the shared flow:

* features: the extractor's log-mels of one clip (normalised per clip over its own frames, so a clip's
  features do not depend on the batch it lands in), stored trimmed to the clip's frames, padded with
  zeros and masked at batch time;
* labels: the transcript lower-cased and stripped of punctuation (`model.parakeet.*`), tokenized by
  the checkpoint's tokenizer; a transcript of unknown tokens only gets no label (dropped and counted);
* task: CTC loss; decoding is the model's own greedy `generate` (argmax, padding masked) and the
  tokenizer's CTC decode (repeats merged, blanks dropped);
* export: model + `ParakeetProcessor`, which `transformers.pipeline("automatic-speech-recognition")`
  loads as is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from omegaconf import MISSING
from transformers import AutoConfig, AutoProcessor, ParakeetFeatureExtractor, ParakeetForCTC, PreTrainedTokenizerBase

from whisper_exp.config.schema import ConfigError, OptimizerConfig, RunConfig, choices
from whisper_exp.data.collate import Batch, batch_counts, pad_labels
from whisper_exp.data.features import HashedSettings
from whisper_exp.families.base import DataParts, Family, Loaded, Transcripts, text_normaliser
from whisper_exp.finetune import FinetuneResult
from whisper_exp.finetune.freezing import LayerMap
from whisper_exp.metrics.wer import Normaliser
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.models.loading import (
    ModelLoadError,
    checkpoint_base,
    load_lightning_weights,
    open_checkpoint,
    resolve_source,
)
from whisper_exp.tasks.base import ASRTask

log = logging.getLogger(__name__)

MODEL_TYPE = "parakeet_ctc"
# Bump when the stored features change, so old store entries are not reused.
FEATURE_FORMAT_VERSION = 1


@dataclass
class ParakeetOptions:
    """`model.parakeet` (defaults in conf/model/_parakeet.yaml)."""

    # Label text: lower-cased, these characters dropped, whitespace collapsed (Parakeet CTC checkpoints
    # transcribe lower-case text without punctuation).
    lowercase: bool = MISSING
    remove_chars: str = MISSING
    # Randomly skipped encoder layers during training (> 0 under DDP needs strategy.find_unused_parameters=true).
    layerdrop: float = MISSING
    # "mean" (loss per target length, then batch mean) or "sum"; zero_infinity drops impossible alignments.
    ctc_loss_reduction: str = field(default=MISSING, metadata=choices("mean", "sum"))
    ctc_zero_infinity: bool = MISSING


@dataclass(frozen=True)
class ParakeetFeatureSettings(HashedSettings):
    """What stored Parakeet log-mels depend on besides the audio (keys the feature store)."""

    n_mels: int
    sampling_rate: int
    n_fft: int
    hop_length: int
    win_length: int
    preemphasis: float
    format_version: int = FEATURE_FORMAT_VERSION
    kind: ClassVar[str] = "parakeet-logmel"


class ParakeetFeaturizer:
    """One clip → its normalised log-mels (frames carrying audio, n_mels), float32, time-major."""

    def __init__(self, extractor: ParakeetFeatureExtractor) -> None:
        self.extractor = extractor
        self.settings = ParakeetFeatureSettings(
            n_mels=extractor.feature_size, sampling_rate=extractor.sampling_rate, n_fft=extractor.n_fft,
            hop_length=extractor.hop_length, win_length=extractor.win_length,
            preemphasis=float(extractor.preemphasis or 0.0))

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        out = self.extractor(audio, sampling_rate=self.extractor.sampling_rate, return_tensors="np",
                             return_attention_mask=True)
        n_valid = int(out["attention_mask"][0].sum())
        return np.ascontiguousarray(out["input_features"][0, :n_valid], dtype=np.float32)


class ParakeetCollator:
    """Log-mel batches padded with zeros to the longest clip, with the attention mask the model needs."""

    def __call__(self, items: Sequence[dict]) -> Batch:
        lengths = [len(item["features"]) for item in items]
        n_mels = items[0]["features"].shape[1]
        features = torch.zeros((len(items), max(lengths), n_mels), dtype=torch.float32)
        mask = torch.zeros((len(items), max(lengths)), dtype=torch.long)
        for row, item in enumerate(items):
            features[row, : lengths[row]] = torch.from_numpy(np.asarray(item["features"], dtype=np.float32))
            mask[row, : lengths[row]] = 1
        return {"input_features": features, "attention_mask": mask,
                "labels": pad_labels([item["labels"] for item in items]),
                "ids": [item["id"] for item in items], "texts": [item["text"] for item in items],
                "sources": [item["source"] for item in items], **batch_counts(items)}


class ParakeetLabeller:
    """Transcript → the checkpoint tokenizer's ids of its normalised text; [] when only unknown tokens remain."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, options: ParakeetOptions) -> None:
        self.tokenizer = tokenizer
        self.lowercase = options.lowercase
        self.removal = str.maketrans(dict.fromkeys(options.remove_chars))

    def normalise(self, text: str) -> str:
        """The text the head learns to spell."""
        text = text.lower() if self.lowercase else text
        return " ".join(text.translate(self.removal).split())

    def __call__(self, text: str) -> list[int]:
        normalised = self.normalise(text)
        if not normalised:
            return []
        ids = list(self.tokenizer(normalised, add_special_tokens=False).input_ids)
        return [] if all(i == self.tokenizer.unk_token_id for i in ids) else ids


class ParakeetTask(ASRTask):
    """CTC loss for training; the model's greedy CTC `generate` and the tokenizer's CTC decode for evaluation."""

    def __init__(self, model: ParakeetForCTC, tokenizer: PreTrainedTokenizerBase, *, optimizer: OptimizerConfig,
                 normaliser: Normaliser, log_examples: int, checkpoint_meta: CheckpointMeta) -> None:
        super().__init__(model, optimizer, normaliser, log_examples, checkpoint_meta)
        self.tokenizer = tokenizer

    def compute_loss(self, batch: Batch) -> torch.Tensor:
        return self.model(input_features=batch["input_features"], attention_mask=batch["attention_mask"],
                          labels=batch["labels"]).loss

    @torch.no_grad()
    def transcribe(self, batch: Batch) -> list[str]:
        tokens = self.model.generate(input_features=batch["input_features"], attention_mask=batch["attention_mask"])
        return [text.strip() for text in self.tokenizer.batch_decode(tokens, skip_special_tokens=True)]


PARAKEET_LAYERS = LayerMap(
    encoder=lambda model: model.encoder,
    layers=lambda model: model.encoder.layers,
    # The convolutional subsampling below the first block (relative positions are computed, not learnt).
    stem=lambda model: (model.encoder.subsampling,),
)


def _location(run: RunConfig) -> tuple[str, str, Path | None, dict | None]:
    """(folder or hub id, description, .ckpt path, .ckpt contents) of the weights `run.model` names."""
    cfg = run.model
    checkpoint, ckpt = open_checkpoint(cfg)
    if ckpt is not None:
        location, description = checkpoint_base(ckpt, checkpoint, cfg, Path(run.cache_dir))
        return location, description, checkpoint, ckpt
    source = resolve_source(cfg)
    if source == "local":
        if checkpoint is None:
            raise ModelLoadError("model.source=local needs model.checkpoint=/path/to/dir")
        config = checkpoint / "config.json"
        model_type = json.loads(config.read_text()).get("model_type") if config.is_file() else None
        if model_type != MODEL_TYPE:
            raise ModelLoadError(f"model.checkpoint={checkpoint} is not a Hugging Face Parakeet CTC folder "
                                 f"(config.json with model_type {MODEL_TYPE!r}; found {model_type!r})")
        return str(checkpoint), f"local {checkpoint}", None, None
    if source == "hub":
        return cfg.hub_id, f"hub:{cfg.hub_id}", None, None
    raise ModelLoadError(f"model={cfg.name} has no bundled offline copy: use model.checkpoint=/path/to/dir")


class ParakeetFamily(Family):
    """NVIDIA Parakeet CTC (see module doc)."""

    name = "parakeet"
    layer_map = PARAKEET_LAYERS
    options_key = "parakeet"
    options_type = ParakeetOptions

    def check(self, run: RunConfig) -> None:
        super().check(run)
        options: ParakeetOptions = run.model.options
        if not 0 <= options.layerdrop < 1:
            raise ConfigError(f"model.parakeet.layerdrop={options.layerdrop} must be in [0, 1)")

    def load(self, run: RunConfig, transcripts: Transcripts, load_kwargs: dict[str, Any]) -> Loaded:
        cfg, options = run.model, run.model.options
        location, description, ckpt_path, ckpt = _location(run)
        try:
            config = AutoConfig.from_pretrained(location)
            encoder = config.encoder_config
            encoder.dropout, encoder.attention_dropout = cfg.dropout, cfg.attention_dropout
            encoder.activation_dropout, encoder.layerdrop = cfg.activation_dropout, options.layerdrop
            config.ctc_loss_reduction, config.ctc_zero_infinity = options.ctc_loss_reduction, options.ctc_zero_infinity
            model = ParakeetForCTC.from_pretrained(location, config=config, dtype=torch.float32, **load_kwargs)
            processor = AutoProcessor.from_pretrained(location)
        except OSError as err:
            raise ModelLoadError(f"cannot load {location}: {err}\noffline: model.checkpoint=/path/to/a/local/hf_dir"
                                 ) from err
        if ckpt is not None and ckpt_path is not None:
            model = load_lightning_weights(model, ckpt, ckpt_path)
            description = f"{description} + fine-tuned weights {ckpt_path}"
        extractor = processor.feature_extractor
        if extractor.sampling_rate != run.data.sampling_rate:
            raise ConfigError(f"data.sampling_rate={run.data.sampling_rate} but {location} expects "
                              f"{extractor.sampling_rate} Hz audio: set data.sampling_rate={extractor.sampling_rate}")
        log.info("model weights: %s (%d tokens)", description, model.config.vocab_size)
        return Loaded(model=model, processor=processor, source=description, base_path=location)

    def data_parts(self, run: RunConfig, loaded: Loaded) -> DataParts:
        return DataParts(featurizer=ParakeetFeaturizer(loaded.processor.feature_extractor),
                         labeller=ParakeetLabeller(loaded.processor.tokenizer, run.model.options),
                         collate=ParakeetCollator(), max_label_tokens=run.model.max_target_positions)

    def task(self, run: RunConfig, loaded: Loaded, tuned: FinetuneResult, checkpoint_meta: CheckpointMeta
             ) -> ParakeetTask:
        return ParakeetTask(loaded.model, loaded.processor.tokenizer, optimizer=run.optimizer,
                            normaliser=text_normaliser(run), log_examples=run.generation.log_examples,
                            checkpoint_meta=checkpoint_meta)


FAMILY = ParakeetFamily()
