"""The wav2vec2-style CTC family: wav2vec2 / WavLM / HuBERT (and kin) with a character CTC head.

Raw 16-kHz waveform in (optionally normalised), batches padded to their longest clip, a character
vocabulary (built from the training transcripts unless fixed or carried by the checkpoint:
families.ctc_loading, families.ctc_vocab), CTC loss and greedy CTC decoding (tasks.ctc). Settings:
`model.ctc.*` (`CtcConfig`).
"""

from __future__ import annotations

from typing import Any

from whisper_exp.config.schema import ConfigError, RunConfig
from whisper_exp.data.collate import CTCCollator
from whisper_exp.data.features import WaveformFeaturizer
from whisper_exp.families.base import DataParts, Family, Loaded, Transcripts, text_normaliser
from whisper_exp.families.ctc_loading import VOCAB_META_KEY, CtcConfig, load_ctc
from whisper_exp.families.ctc_vocab import CtcLabeller
from whisper_exp.finetune import FinetuneResult
from whisper_exp.finetune.freezing import LayerMap
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.tasks.ctc import CTCTask

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
