"""The wav2vec2-style CTC family: wav2vec2 / WavLM / HuBERT (and kin) with a character CTC head.

Raw 16-kHz waveform in (optionally normalised), batches padded to their longest clip, a character
vocabulary (built from the training transcripts unless fixed or carried by the checkpoint:
families.ctc_loading, families.ctc_vocab), CTC loss and greedy CTC decoding (tasks.ctc). Settings:
`model.ctc.*` (`CtcConfig`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from transformers import Wav2Vec2FeatureExtractor

from whisper_exp.config.schema import ConfigError, RunConfig
from whisper_exp.data.collate import Batch, batch_counts, pad_labels
from whisper_exp.data.features import FEATURE_FORMAT_VERSION, HashedSettings
from whisper_exp.families.base import DataParts, Family, Loaded, Transcripts, text_normaliser
from whisper_exp.families.ctc_loading import VOCAB_META_KEY, CtcConfig, load_ctc
from whisper_exp.families.ctc_vocab import CtcLabeller
from whisper_exp.finetune import FinetuneResult
from whisper_exp.finetune.freezing import LayerMap
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.tasks.ctc import CTCTask


@dataclass(frozen=True)
class WaveformSettings(HashedSettings):
    """What a stored waveform depends on besides the audio: rate and per-clip normalisation."""

    sampling_rate: int
    do_normalize: bool
    format_version: int = FEATURE_FORMAT_VERSION
    kind: ClassVar[str] = "waveform"


class WaveformFeaturizer:
    """The raw waveform as a CTC model's feature extractor prepares one clip (normalised when it normalises)."""

    def __init__(self, extractor: Wav2Vec2FeatureExtractor) -> None:
        self.extractor = extractor
        self.settings = WaveformSettings(sampling_rate=extractor.sampling_rate, do_normalize=extractor.do_normalize)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        values = self.extractor(audio, sampling_rate=self.extractor.sampling_rate, return_tensors="np").input_values
        return np.ascontiguousarray(values[0], dtype=np.float32)


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


CTC_LAYERS = LayerMap(
    encoder=lambda model: model.base_model,
    layers=lambda model: model.base_model.encoder.layers,
    stem=lambda model: (model.base_model.feature_extractor, model.base_model.feature_projection,
                        model.base_model.encoder.pos_conv_embed),
    freeze_feature_encoder=lambda model: model.freeze_feature_encoder(),
    # The CTC head is new (sized to the run's vocabulary): under LoRA it trains in full.
    lora_full_modules=("lm_head",),
)


class CtcFamily(Family):
    """wav2vec2 / WavLM / HuBERT + CTC head (see module doc)."""

    name = "ctc"
    layer_map = CTC_LAYERS
    options_key = "ctc"
    options_type = CtcConfig

    def check(self, run: RunConfig) -> None:
        super().check(run)
        ctc: CtcConfig = run.model.options
        for key in ("mask_time_prob", "mask_feature_prob", "feat_proj_dropout", "final_dropout", "layerdrop"):
            if not 0 <= getattr(ctc, key) < 1:
                raise ConfigError(f"model.ctc.{key}={getattr(ctc, key)} must be in [0, 1)")
        specials = (ctc.vocab.word_delimiter, ctc.vocab.unk_token, ctc.vocab.pad_token)
        if len(ctc.vocab.word_delimiter) != 1 or len(set(specials)) != 3:
            raise ConfigError(f"model.ctc.vocab: word_delimiter must be one character and word_delimiter, unk_token "
                              f"and pad_token distinct (got {specials})")
        if run.data.streaming and ctc.vocab.chars is None:
            raise ConfigError("data.streaming=true with a CTC model: the vocabulary cannot be read from a stream up "
                              "front; set model.ctc.vocab.chars=[a,b,…] (or train from an exported model with its "
                              "vocab)")
        if run.data.streaming and run.data.group_by_length:
            raise ConfigError("data.group_by_length=true needs the clips' durations up front: not with "
                              "data.streaming")

    def load(self, run: RunConfig, transcripts: Transcripts, load_kwargs: dict[str, Any]) -> Loaded:
        loaded = load_ctc(run.model, run.cache_dir, sampling_rate=run.data.sampling_rate, transcripts=transcripts,
                          load_kwargs=load_kwargs)
        return Loaded(model=loaded.model, processor=loaded.processor, source=loaded.source,
                      base_path=loaded.base_path, meta={VOCAB_META_KEY: loaded.vocab})

    def data_parts(self, run: RunConfig, loaded: Loaded) -> DataParts:
        tokenizer, extractor = loaded.processor.tokenizer, loaded.processor.feature_extractor
        return DataParts(featurizer=WaveformFeaturizer(extractor),
                         labeller=CtcLabeller(tokenizer, run.model.options.vocab),
                         collate=CTCCollator(extractor.padding_value, extractor.return_attention_mask),
                         max_label_tokens=run.model.max_target_positions)

    def task(self, run: RunConfig, loaded: Loaded, tuned: FinetuneResult, checkpoint_meta: CheckpointMeta
             ) -> CTCTask:
        return CTCTask(loaded.model, loaded.processor.tokenizer, optimizer=run.optimizer,
                       normaliser=text_normaliser(run), log_examples=run.generation.log_examples,
                       checkpoint_meta=checkpoint_meta)


FAMILY = CtcFamily()
