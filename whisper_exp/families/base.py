"""What a model family provides: the small surface run.py builds a run from.

A family (Whisper seq2seq, wav2vec2-style CTC, Parakeet CTC, …) owns everything that depends on the
kind of model: loading a checkpoint and its processor, the labeller (text → label ids), the featurizer
(audio → stored features) and collator (items → model inputs), the LightningModule (loss and decoding),
the layer map that the finetune presets freeze by, the export, and the checks of its own config keys.
Everything else — data sources and filters, the Trainer, metrics, logging, the summary — is shared.
Its own settings live in the model group under `model.<options_key>` and are typed by `options_type`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from whisper_exp.config.schema import ConfigError, RunConfig, check_choices
from whisper_exp.data.timestamps import TimedLabeller
from whisper_exp.finetune.freezing import LayerMap
from whisper_exp.metrics.wer import Normaliser, build_normaliser
from whisper_exp.models.checkpoint_meta import CheckpointMeta

if TYPE_CHECKING:
    from transformers import PreTrainedModel, ProcessorMixin

    from whisper_exp.finetune import FinetuneResult
    from whisper_exp.tasks.base import ASRTask
    from whisper_exp.transcribe.backends import Backend

ENGLISH_NAMES = ("en", "english")
# Reads the training split's transcripts (once, shared with the data module), for families that need them
# before the model exists (a CTC head sized to the characters of the training text).
Transcripts = Callable[[], Iterable[str]]


@dataclass
class Loaded:
    """A checkpoint ready for training: the model, its processor, where its weights came from."""

    model: PreTrainedModel
    processor: ProcessorMixin
    # Human-readable origin (summary.json `model_source`).
    source: str
    # The base weights (hub id or folder), recorded in checkpoints so a .ckpt can be evaluated alone.
    base_path: str
    # The family's own checkpoint metadata (e.g. the CTC vocabulary the head was sized to).
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataParts:
    """What the data module needs from the model side."""

    # Audio (float32, model rate) → stored features; a data.features.Featurizer (or a WhisperFeatureExtractor).
    featurizer: Any
    # Transcript → label ids ([] when nothing is left to learn: the pipeline drops and counts the clip).
    labeller: Callable[[str], list[int]]
    # Items → a batch of model inputs.
    collate: Callable
    # Longest label sequence the model can learn (longer ones are dropped and counted).
    max_label_tokens: int
    # Timed segments → label ids with timestamp tokens (data.timestamps); None: the family has no timestamps and
    # ignores data.timestamps.
    timed_labeller: TimedLabeller | None = None


class Family(ABC):
    """One model family (see module doc). Subclasses set the class attributes and implement the four methods."""

    name: ClassVar[str]
    # Where the finetune presets find the encoder layers, stem, decoder, feature encoder of this family's models.
    layer_map: ClassVar[LayerMap]
    # `model.<options_key>`: the family's own settings, typed by `options_type` (None: the family has none).
    options_key: ClassVar[str | None] = None
    options_type: ClassVar[type | None] = None
    # What the family supports: 30-s packing of short clips, the frozen-encoder output cache.
    supports_packing: ClassVar[bool] = False
    supports_encoder_cache: ClassVar[bool] = False
    # export.formats it can write: a Hugging Face folder always; Whisper also ct2 and ggml (whisper_exp.export).
    export_formats: ClassVar[tuple[str, ...]] = ("hf",)
    # Longest clip the model sees whole, in seconds (None: no fixed window).
    max_seconds: ClassVar[float | None] = None
    # Whether it transcribes recordings longer than its window (eval.long_form: `long_form_backend`).
    supports_long_form: ClassVar[bool] = False

    def typed_options(self, raw: dict[str, Any] | None) -> Any:
        """`model.<options_key>` merged onto `options_type` (its defaults); a ConfigError names a wrong key."""
        if self.options_type is None:
            if raw:
                raise ConfigError(f"model.{self.options_key}: family {self.name!r} has no options")
            return None
        try:
            return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(self.options_type), raw or {}))
        except (ConfigKeyError, ValidationError) as err:
            raise ConfigError(f"invalid config under model.{self.options_key}: "
                              f"{err.msg if hasattr(err, 'msg') else err}") from err
        except OmegaConfBaseException as err:
            raise ConfigError(f"model.{self.options_key}: {err}") from err

    def check(self, run: RunConfig) -> None:
        """Keys this family cannot honour, named (run at validation, before anything loads)."""
        finetune, data = run.finetune, run.data
        check_choices(run.model.options, f"model.{self.options_key}.")
        if finetune.freeze_decoder and self.layer_map.decoder is None:
            raise ConfigError(f"finetune.freeze_decoder=true: model={run.model.name} ({self.name} family) has no "
                              "decoder; use finetune=full, freeze_encoder_layers or ctc_lora")
        if finetune.encoder_cache.enabled and not self.supports_encoder_cache:
            raise ConfigError(f"finetune.encoder_cache is for Whisper's encoder; model={run.model.name} "
                              f"({self.name} family) does not use it")
        if data.packing.enabled and not self.supports_packing:
            raise ConfigError(f"data.packing.enabled=true: packing fills Whisper's fixed 30-s window; "
                              f"model={run.model.name} ({self.name} family) takes batches padded to their longest "
                              "clip instead: set data.packing.enabled=false")
        if run.eval.long_form.enabled and not self.supports_long_form:
            raise ConfigError(f"eval.long_form.enabled=true: model={run.model.name} ({self.name} family) has no "
                              "long-form decoding here (Whisper only); set eval.long_form.enabled=false")
        if self.max_seconds is not None and data.max_duration_s > self.max_seconds:
            raise ConfigError(f"data.max_duration_s > {self.max_seconds:g} s: the {self.name} encoder sees at most "
                              f"{self.max_seconds:g} s per sample; longer audio would be silently truncated. Keep it "
                              f"<= {self.max_seconds:g} or segment the audio.")

    @abstractmethod
    def load(self, run: RunConfig, transcripts: Transcripts, load_kwargs: dict[str, Any]) -> Loaded:
        """Model and processor as `run.model` says (hub id, local folder, a run's .ckpt…).

        load_kwargs: extra `from_pretrained` arguments from the finetune group (8-bit quantisation).
        """

    @abstractmethod
    def data_parts(self, run: RunConfig, loaded: Loaded) -> DataParts:
        """Featurizer, labeller and collator for this checkpoint."""

    @abstractmethod
    def task(self, run: RunConfig, loaded: Loaded, tuned: FinetuneResult, checkpoint_meta: CheckpointMeta
             ) -> ASRTask:
        """The LightningModule over `loaded.model` (loss and decoding of this family)."""

    def long_form_backend(self, task: ASRTask, loaded: Loaded) -> Backend:
        """A transcriber of recordings of any length over the task's model (eval.long_form)."""
        raise NotImplementedError(f"the {self.name} family has no long-form decoding")

    def export(self, model: PreTrainedModel, processor: ProcessorMixin, directory: Path) -> Path:
        """A Hugging Face folder that `transformers.pipeline("automatic-speech-recognition")` loads as-is."""
        from whisper_exp.models.export import export_pretrained

        return export_pretrained(model, processor, directory)


def normaliser_kind(run: RunConfig) -> str:
    """English normaliser for English models/data, basic otherwise, unless data.text_normaliser sets one."""
    if run.data.text_normaliser != "auto":
        return run.data.text_normaliser
    english = run.model.english_only or (run.model.language or "").lower() in ENGLISH_NAMES
    return "english" if english else "basic"


def text_normaliser(run: RunConfig, spelling: dict[str, str] | None = None) -> Normaliser:
    """The WER normaliser of this run (`spelling`: the tokenizer's English spelling map, Whisper's)."""
    return build_normaliser(normaliser_kind(run), spelling)
