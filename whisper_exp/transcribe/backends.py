"""One interface over the three inference engines a whisper_exp model can be deployed on.

* ``hf``: transformers. Up to 30 s: one window. Longer: transformers' own long-form decoding — either
  ``sequential`` (WhisperForConditionalGeneration.generate on the whole log-mel with an attention mask and
  timestamps: 30-s windows that seek by the predicted timestamps, as OpenAI's Whisper does) or ``chunked``
  (the ASR pipeline's overlapping 30-s chunks, merged on their overlap).
* ``ct2``: a CTranslate2 folder through faster-whisper (its own sequential long-form decoding).
* ``ggml``: a whisper.cpp file through pywhispercpp (whisper.cpp's own sequential long-form decoding).

Every backend decodes deterministically (temperature 0, no temperature fallback, no conditioning on the
previous window, no voice-activity filter) so that transcripts are comparable across backends (parity).
"""

from __future__ import annotations

import atexit
import copy
import logging
import os
import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 30.0
BACKENDS = ("hf", "ct2", "ggml")
LONG_FORM_MODES = ("sequential", "chunked")
# whisper.cpp reports segment times in units of 10 ms.
WHISPER_CPP_TIME_UNIT_S = 0.01


class BackendError(RuntimeError):
    """A backend cannot be loaded or run (missing package, wrong folder); the message names it."""


@dataclass
class DecodeOptions:
    """How to decode: shared by every backend."""

    language: str | None = None
    beam_size: int = 1
    # Timestamped segments (always on for audio longer than one window).
    timestamps: bool = False
    long_form: str = "sequential"
    max_new_tokens: int | None = None
    threads: int = 0  # 0: the engine's default


@dataclass
class Segment:
    """A stretch of transcript with its times in seconds."""

    start: float
    end: float
    text: str


@dataclass
class Transcript:
    """The text of one audio file and its segments."""

    text: str
    segments: list[Segment] = field(default_factory=list)


class Backend(ABC):
    """Transcribes 16-kHz mono float32 audio of any length."""

    name: str = ""

    @abstractmethod
    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        """The transcript of `audio`."""

    def encoder_output(self, features: np.ndarray) -> np.ndarray | None:
        """Encoder hidden states for log-mel `features` (batch, mels, frames); None where not exposed."""
        return None


def _join(segments: list[Segment]) -> str:
    return " ".join(s.text.strip() for s in segments if s.text.strip())


class HfBackend(Backend):
    """transformers' WhisperForConditionalGeneration."""

    name = "hf"

    def __init__(self, model_dir: str | Path, threads: int = 0) -> None:
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        if threads:
            torch.set_num_threads(threads)
        self._attach(WhisperForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval(),
                     WhisperProcessor.from_pretrained(model_dir))

    @classmethod
    def from_model(cls, model: torch.nn.Module, processor: object) -> HfBackend:
        """A backend over a model already in memory (e.g. a run's model after testing: eval.long_form)."""
        backend = cls.__new__(cls)
        backend._attach(model, processor)
        return backend

    def _attach(self, model: torch.nn.Module, processor: object) -> None:
        self.model = model
        self.processor = processor
        self.multilingual = bool(getattr(self.model.generation_config, "is_multilingual", False))

    def _kwargs(self, options: DecodeOptions) -> dict:
        """generate() arguments: a copy of the model's generation config with the decoding options set on it
        (passing them beside the config makes transformers warn on every call)."""
        generation = copy.deepcopy(self.model.generation_config)
        generation.num_beams, generation.do_sample = options.beam_size, False
        if options.max_new_tokens:
            generation.max_new_tokens, generation.max_length = options.max_new_tokens, None
        kwargs: dict = {"generation_config": generation}
        if self.multilingual and options.language:
            kwargs["language"] = options.language
        return kwargs

    def features(self, audio: np.ndarray) -> np.ndarray:
        """One 30-s window of log-mel features (padded), as the model's encoder takes them."""
        extracted = self.processor.feature_extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="np")
        return extracted.input_features.astype(np.float32)

    @torch.inference_mode()
    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        duration = len(audio) / SAMPLE_RATE
        if duration > WINDOW_SECONDS and options.long_form == "chunked":
            return self._chunked(audio, options)
        long_form = duration > WINDOW_SECONDS
        if long_form:
            extracted = self.processor.feature_extractor(
                audio, sampling_rate=SAMPLE_RATE, return_tensors="pt", truncation=False, padding="longest",
                return_attention_mask=True)
            inputs = {"input_features": extracted.input_features, "attention_mask": extracted.attention_mask}
        else:
            inputs = {"input_features": torch.from_numpy(self.features(audio))}
        parameter = next(self.model.parameters())
        inputs = {name: value.to(parameter.device, dtype=parameter.dtype if value.is_floating_point() else None)
                  for name, value in inputs.items()}
        tokenizer = self.processor.tokenizer
        if not (long_form or options.timestamps):
            ids = self.model.generate(**inputs, **self._kwargs(options))
            text = tokenizer.decode(ids[0], skip_special_tokens=True).strip()
            return Transcript(text=text, segments=[Segment(0.0, duration, text)])
        out = self.model.generate(**inputs, **self._kwargs(options), return_timestamps=True, return_segments=True,
                                  condition_on_prev_tokens=False)
        segments = [Segment(float(s["start"]), min(float(s["end"]), duration),
                            tokenizer.decode(s["tokens"], skip_special_tokens=True).strip())
                    for s in out["segments"][0]]
        return Transcript(text=_join(segments), segments=segments)

    def _chunked(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        from transformers import pipeline

        asr = pipeline("automatic-speech-recognition", model=self.model, tokenizer=self.processor.tokenizer,
                       feature_extractor=self.processor.feature_extractor, chunk_length_s=WINDOW_SECONDS,
                       device="cpu")
        out = asr({"raw": audio, "sampling_rate": SAMPLE_RATE}, return_timestamps=True,
                  generate_kwargs=self._kwargs(options))
        duration = len(audio) / SAMPLE_RATE
        segments = [Segment(float(c["timestamp"][0] or 0.0), float(c["timestamp"][1] or duration), c["text"].strip())
                    for c in out.get("chunks", [])]
        return Transcript(text=out["text"].strip(), segments=segments)

    @torch.inference_mode()
    def encoder_output(self, features: np.ndarray) -> np.ndarray | None:
        return self.model.model.encoder(torch.from_numpy(features)).last_hidden_state.numpy()


class Ct2Backend(Backend):
    """A CTranslate2 folder through faster-whisper.

    faster-whisper computes the log-mel of the audio alone and pads the *features* of a short window with zeros,
    while Whisper (OpenAI's and transformers') pads the *audio* with silence to 30 s, whose log-mel is far from 0:
    a fine-tune sees inputs it was never trained on and its transcripts change (measured on tiny.en and the demo
    test split: 16 % identical to transformers without padding; see README "Export"). With `pad_to_window`
    (the default) audio up to 30 s is padded with silence to 30 s first, so both compute the same features.
    """

    name = "ct2"

    def __init__(self, model_dir: str | Path, threads: int = 0, pad_to_window: bool = True) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise BackendError("backend ct2 needs faster-whisper: pip install 'whisper_exp[deploy]'") from err
        if not (Path(model_dir) / "model.bin").is_file():
            raise BackendError(f"{model_dir} is not a CTranslate2 folder (no model.bin)")
        self.model = WhisperModel(str(model_dir), device="cpu", compute_type="default", cpu_threads=threads)
        self.pad_to_window = pad_to_window

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        duration = len(audio) / SAMPLE_RATE
        long_form = duration > WINDOW_SECONDS
        if self.pad_to_window and not long_form:
            audio = np.pad(audio, (0, int(WINDOW_SECONDS * SAMPLE_RATE) - len(audio)))
        kwargs = {"max_new_tokens": options.max_new_tokens} if options.max_new_tokens else {}
        pieces, _info = self.model.transcribe(
            audio, language=options.language if self.model.model.is_multilingual else None,
            beam_size=options.beam_size, best_of=1, temperature=0.0, condition_on_previous_text=False,
            without_timestamps=not (long_form or options.timestamps), vad_filter=False, **kwargs)
        segments = [Segment(float(p.start), min(float(p.end), duration), p.text.strip()) for p in pieces]
        return Transcript(text=_join(segments), segments=segments)

    def encoder_output(self, features: np.ndarray) -> np.ndarray | None:
        import ctranslate2

        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features)))
        return np.asarray(encoded, dtype=np.float32)


class GgmlBackend(Backend):
    """A whisper.cpp model file through pywhispercpp."""

    name = "ggml"

    def __init__(self, model_path: str | Path, threads: int = 0) -> None:
        try:
            import pywhispercpp.model  # noqa: F401
        except ImportError as err:
            raise BackendError("backend ggml needs pywhispercpp: pip install 'whisper_exp[deploy]'") from err
        self.path = Path(model_path)
        if self.path.is_dir():
            from whisper_exp.export.ggml import GGML_FILENAME

            self.path = self.path / GGML_FILENAME
        if not self.path.is_file():
            raise BackendError(f"{model_path} is not a whisper.cpp model file")
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.multilingual = ggml_is_multilingual(self.path)
        self._models: dict[bool, object] = {}
        atexit.register(self._models.clear)  # free whisper.cpp contexts before the interpreter tears pywhispercpp down

    def _model(self, beam: bool) -> object:
        if beam not in self._models:
            from pywhispercpp.model import Model

            # params_sampling_strategy: 0 greedy, 1 beam search (whisper.cpp's enum)
            self._models[beam] = Model(str(self.path), params_sampling_strategy=int(beam), n_threads=self.threads,
                                       redirect_whispercpp_logs_to=None, print_progress=False)
        return self._models[beam]

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        long_form = len(audio) / SAMPLE_RATE > WINDOW_SECONDS
        model = self._model(options.beam_size > 1)
        params: dict = {"no_timestamps": not (long_form or options.timestamps), "temperature": 0.0,
                        "temperature_inc": 0.0, "no_context": True, "suppress_nst": True,
                        "language": (options.language or "auto") if self.multilingual else "en",
                        "print_progress": False}
        if options.beam_size > 1:
            params["beam_search"] = {"beam_size": options.beam_size, "patience": -1.0}
        if options.max_new_tokens:
            params["max_tokens"] = options.max_new_tokens
        pieces = model.transcribe(np.ascontiguousarray(audio, dtype=np.float32), **params)  # type: ignore[attr-defined]
        if params["no_timestamps"]:  # whisper.cpp leaves the times unset
            text = _join([Segment(0.0, 0.0, p.text) for p in pieces])
            return Transcript(text=text, segments=[Segment(0.0, len(audio) / SAMPLE_RATE, text)])
        segments = [Segment(p.t0 * WHISPER_CPP_TIME_UNIT_S, p.t1 * WHISPER_CPP_TIME_UNIT_S, p.text.strip())
                    for p in pieces]
        return Transcript(text=_join(segments), segments=segments)


def ggml_is_multilingual(path: Path) -> bool:
    """Whether a whisper.cpp file holds a multilingual model (its n_vocab, as whisper.cpp decides)."""
    from whisper_exp.export.ggml import GGML_MAGIC, MULTILINGUAL_MIN_VOCAB

    with path.open("rb") as handle:
        magic, n_vocab = struct.unpack("<ii", handle.read(8))
    if magic != GGML_MAGIC:
        raise BackendError(f"{path} is not a whisper.cpp ggml file (magic {magic:#x})")
    return n_vocab >= MULTILINGUAL_MIN_VOCAB


def detect_backend(model: str | Path) -> str:
    """hf | ct2 | ggml from what is at `model`."""
    path = Path(model)
    if path.is_file():
        return "ggml"
    if (path / "model.bin").is_file():
        return "ct2"
    if (path / "config.json").is_file():
        return "hf"
    from whisper_exp.export.ggml import GGML_FILENAME

    if (path / GGML_FILENAME).is_file():
        return "ggml"
    raise BackendError(f"{model}: not a transformers folder, a CTranslate2 folder or a whisper.cpp file")


def load_backend(model: str | Path, backend: str | None = None, threads: int = 0) -> Backend:
    """The backend for `model` (detected from its files when `backend` is None)."""
    kind = backend or detect_backend(model)
    classes = {"hf": HfBackend, "ct2": Ct2Backend, "ggml": GgmlBackend}
    if kind not in classes:
        raise BackendError(f"unknown backend {kind!r}; choose one of {BACKENDS}")
    return classes[kind](model, threads=threads)
