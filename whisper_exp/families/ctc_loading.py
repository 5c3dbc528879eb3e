"""CTC checkpoints (wav2vec2 / WavLM / HuBERT): weights, the character vocabulary, the processor.

Where the weights come from follows models.loading (`model.source`, `model.checkpoint`): the hub id,
a local Hugging Face folder, or a run's .ckpt (on top of the base it records). The vocabulary:

* a folder with its own CTC tokenizer (vocab.json: a run's exported hf_model/) keeps it and its head;
* a run's .ckpt reuses the vocabulary recorded in it;
* otherwise (a pretrained-only checkpoint such as microsoft/wavlm-large) it is built from the training
  transcripts (families.ctc_vocab) and a fresh CTC head of that size is initialised.

The processor (feature extractor from model.ctc + tokenizer) is exported with the model, so the
exported folder decodes on its own in `transformers.pipeline("automatic-speech-recognition")`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (
    AutoModelForCTC,
    PreTrainedModel,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Processor,
)

from whisper_exp.config.schema import ModelConfig, choices
from whisper_exp.families.ctc_vocab import CtcVocabConfig, build_tokenizer, build_vocabulary
from whisper_exp.models.checkpoint_meta import CheckpointMeta
from whisper_exp.models.loading import (
    ModelLoadError,
    checkpoint_base,
    load_lightning_weights,
    open_checkpoint,
    resolve_source,
)

log = logging.getLogger(__name__)

# Key of the checkpoint metadata (tasks.base) holding the vocabulary a CTC run trained with.
VOCAB_META_KEY = "ctc_vocab"
CTC_MODEL_TYPES = ("wav2vec2", "wavlm", "hubert", "wav2vec2-conformer", "data2vec-audio", "unispeech-sat", "sew")


@dataclass
class CtcConfig:
    """`model.ctc`: settings of the wav2vec2-style CTC family (wav2vec2 / WavLM / HuBERT + CTC head); values and
    their documentation: conf/model/_ctc.yaml and each checkpoint's file."""

    # Feature extractor, per checkpoint: zero-mean unit-variance waveform; attention mask over padding
    # (only for checkpoints trained with one: layer-norm feature encoders, e.g. WavLM-large, HuBERT-large).
    do_normalize: bool
    return_attention_mask: bool
    vocab: CtcVocabConfig
    # SpecAugment-style masking of the feature-encoder output during training.
    mask_time_prob: float
    mask_time_length: int
    mask_feature_prob: float
    mask_feature_length: int
    # Regularisation beyond model.dropout (hidden), attention_dropout and activation_dropout.
    feat_proj_dropout: float
    final_dropout: float
    layerdrop: float
    # "mean" (loss per target length, then batch mean) or "sum"; zero_infinity drops impossible alignments.
    ctc_loss_reduction: str = field(metadata=choices("mean", "sum"))
    ctc_zero_infinity: bool


@dataclass
class LoadedCTC:
    """A CTC model ready for training, its processor, where it came from and its vocabulary."""

    model: PreTrainedModel
    processor: Wav2Vec2Processor
    source: str
    base_path: str
    vocab: dict[str, int]


def feature_extractor(options: CtcConfig, sampling_rate: int) -> Wav2Vec2FeatureExtractor:
    """The waveform feature extractor of this checkpoint (normalisation and attention mask from model.ctc)."""
    return Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=sampling_rate, padding_value=0.0,
                                    do_normalize=options.do_normalize,
                                    return_attention_mask=options.return_attention_mask)


def model_overrides(cfg: ModelConfig) -> dict[str, float | int | str | bool]:
    """Config values set on the loaded model: SpecAugment masking, dropouts, CTC loss settings."""
    ctc: CtcConfig = cfg.options
    return {
        "mask_time_prob": ctc.mask_time_prob, "mask_time_length": ctc.mask_time_length,
        "mask_feature_prob": ctc.mask_feature_prob, "mask_feature_length": ctc.mask_feature_length,
        "hidden_dropout": cfg.dropout, "attention_dropout": cfg.attention_dropout,
        "activation_dropout": cfg.activation_dropout, "feat_proj_dropout": ctc.feat_proj_dropout,
        "final_dropout": ctc.final_dropout, "layerdrop": ctc.layerdrop,
        "ctc_loss_reduction": ctc.ctc_loss_reduction, "ctc_zero_infinity": ctc.ctc_zero_infinity,
    }


def _local_dir(path: Path) -> str:
    config = path / "config.json"
    model_type = json.loads(config.read_text()).get("model_type") if config.is_file() else None
    if model_type not in CTC_MODEL_TYPES:
        raise ModelLoadError(f"model.checkpoint={path} is not a Hugging Face wav2vec2-family folder (config.json "
                             f"with model_type in {CTC_MODEL_TYPES}; found {model_type!r})")
    return str(path)


def _own_tokenizer(location: str) -> Wav2Vec2CTCTokenizer | None:
    """The CTC tokenizer saved in a local folder (a fine-tuned export), if any."""
    if not (Path(location) / "vocab.json").is_file():
        return None
    return Wav2Vec2CTCTokenizer.from_pretrained(location)


def load_ctc(cfg: ModelConfig, cache_dir: str | Path, *, sampling_rate: int,
             transcripts: Callable[[], Iterable[str]], load_kwargs: dict | None = None) -> LoadedCTC:
    """Load model + processor as configured (see module doc).

    transcripts: the training transcripts, read only when the vocabulary must be built.
    load_kwargs: extra `from_pretrained` arguments from the finetune group (8-bit quantisation).
    """
    cache_dir = Path(cache_dir)
    options: CtcConfig = cfg.options
    source = resolve_source(cfg)
    checkpoint, ckpt = open_checkpoint(cfg)
    recorded = None
    if ckpt is not None:
        location, description = checkpoint_base(ckpt, checkpoint, cfg, cache_dir)
        recorded = CheckpointMeta.from_checkpoint(ckpt).family.get(VOCAB_META_KEY)
    elif source == "local":
        if checkpoint is None:
            raise ModelLoadError("model.source=local needs model.checkpoint=/path/to/dir")
        location, description = _local_dir(checkpoint), f"local {checkpoint}"
    elif source == "hub":
        location, description = cfg.hub_id, f"hub:{cfg.hub_id}"
    else:
        raise ModelLoadError(f"model={cfg.name} (CTC) has no bundled offline copy: use model.checkpoint=/path/to/dir")
    tokenizer = _own_tokenizer(location) if recorded is None else None
    if tokenizer is not None:
        vocab = dict(tokenizer.encoder)  # the head's tokens (added special tokens such as <s> lie beyond it)
        log.info("CTC vocabulary: the checkpoint's own (%d tokens)", len(vocab))
    else:
        if recorded is not None:
            vocab = dict(recorded)
        else:  # a fixed character set (model.ctc.vocab.chars) needs no transcripts: nothing is read for it
            vocab = build_vocabulary(transcripts() if options.vocab.chars is None else [], options.vocab)
        tokenizer = build_tokenizer(vocab, options.vocab)
        log.info("CTC vocabulary (%d tokens, %s): %s", len(vocab),
                 "from the checkpoint" if recorded is not None else "built from the training transcripts",
                 "".join(token for token in vocab if len(token) == 1))
    kwargs = {"dtype": torch.float32, "vocab_size": len(vocab), "pad_token_id": tokenizer.pad_token_id,
              **model_overrides(cfg), **(load_kwargs or {})}
    try:
        # A checkpoint without a CTC head (or with another vocabulary) gets a fresh head of this vocabulary's size.
        model = AutoModelForCTC.from_pretrained(location, ignore_mismatched_sizes=True, **kwargs)
    except OSError as err:
        raise ModelLoadError(f"cannot load {location}: {err}\noffline: model.checkpoint=/path/to/a/local/hf_dir"
                             ) from err
    if ckpt is not None:
        model = load_lightning_weights(model, ckpt, checkpoint)
        description = f"{description} + fine-tuned weights {checkpoint}"
    processor = Wav2Vec2Processor(feature_extractor=feature_extractor(options, sampling_rate), tokenizer=tokenizer)
    log.info("model weights: %s", description)
    return LoadedCTC(model=model, processor=processor, source=description, base_path=location, vocab=vocab)
