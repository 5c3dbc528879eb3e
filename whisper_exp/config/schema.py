"""Typed schemas for the config groups, and the check that turns a composed config into them.

Hydra composes YAML; `validate_config` merges each group onto its dataclass so that an
unknown key, a wrong type or a missing required value fails at start-up with the key's full
name and what to set, instead of deep inside training. Modules receive their own group's
dataclass, never the whole config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, MissingMandatoryValue, OmegaConfBaseException, ValidationError


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range; the message names the key."""


@dataclass
class CtcVocabConfig:
    """CTC character vocabulary and the text normalisation applied to transcripts before labelling."""

    # Lower-case transcripts (the vocabulary then has no upper-case letters).
    lowercase: bool = True
    # Characters replaced before labelling (curly apostrophes → ', dashes → space, …).
    char_map: dict[str, str] = field(default_factory=lambda: {"’": "'", "‘": "'", "`": "'", "-": " ", "–": " ",
                                                               "—": " "})
    # Characters dropped before labelling (punctuation); apostrophes stay unless listed here.
    remove_chars: str = ",.?!;:\"“”()[]{}…"
    word_delimiter: str = "|"
    unk_token: str = "[UNK]"
    pad_token: str = "[PAD]"
    # A fixed character set (word delimiter, unk and pad are added); null: built from the training transcripts.
    chars: list[str] | None = None


@dataclass
class CtcConfig:
    """CTC-family settings (wav2vec2 / WavLM / HuBERT + CTC head); Whisper models ignore them."""

    # Feature extractor, per checkpoint: zero-mean unit-variance waveform; attention mask over padding
    # (only for checkpoints trained with one: layer-norm feature encoders, e.g. WavLM-large, HuBERT-large).
    do_normalize: bool = True
    return_attention_mask: bool = True
    vocab: CtcVocabConfig = field(default_factory=CtcVocabConfig)
    # SpecAugment-style masking of the feature-encoder output during training.
    mask_time_prob: float = 0.05
    mask_time_length: int = 10
    mask_feature_prob: float = 0.0
    mask_feature_length: int = 10
    # Regularisation beyond model.dropout (hidden), attention_dropout and activation_dropout.
    feat_proj_dropout: float = 0.0
    final_dropout: float = 0.0
    layerdrop: float = 0.0
    # "mean" (loss per target length, then batch mean) or "sum"; zero_infinity drops impossible alignments.
    ctc_loss_reduction: str = "mean"
    ctc_zero_infinity: bool = True


@dataclass
class ModelConfig:
    """One checkpoint: where its weights come from and its published facts."""

    family: str = "whisper"
    name: str = "???"
    hub_id: str = "???"
    source: str = "auto"
    bundled: str | None = None
    checkpoint: str | None = None
    params: int = 0
    num_mel_bins: int = 80
    english_only: bool = False
    pretrain_lr: float = 0.0
    language: str | None = None
    task: str | None = "transcribe"
    max_target_positions: int = 448
    dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    # A recommended fine-tuning LR for checkpoints without a pretraining-LR rule (CTC); wins over the rule.
    finetune_lr: float | None = None
    ctc: CtcConfig = field(default_factory=CtcConfig)


@dataclass
class ImdaConfig:
    """IMDA National Speech Corpus options (kind=imda_nsc); see whisper_exp/data/sources/imda_nsc.py."""

    parts: list[int] = field(default_factory=lambda: [1])
    channels: list[int] = field(default_factory=lambda: [0])
    validation_speakers: float = 0.05
    test_speakers: float = 0.05
    split_seed: int = 0
    prefer_prompt: bool = True
    keep_fillers: bool = False
    drop_unclear: bool = True


@dataclass
class KaldiConfig:
    """Kaldi data-dir options (kind=kaldi); see whisper_exp/data/sources/kaldi.py."""

    # Folder that relative wav.scp paths are resolved against; null: each data dir's parent (the recipe folder).
    audio_root: str | None = None
    # Carve speaker-disjoint validation/test from this data dir (split names train/validation/test); null: off.
    carve_from: str | None = None
    validation_speakers: float = 0.1
    test_speakers: float = 0.1
    split_seed: int = 0
    # Speaker metadata column the carve is stratified by (e.g. age_group, gender); null: not stratified.
    stratify_by: str | None = None
    # With carve_from: a data dir of this name, when present, is the test set (scored in full, no test carved).
    official_test: str | None = "test"
    # age (spk2age) → age_group: names[i] below edges[i], the last name above every edge.
    age_group_edges: list[float] = field(default_factory=lambda: [13.0, 20.0])
    age_group_names: list[str] = field(default_factory=lambda: ["child", "teen", "adult"])


@dataclass
class SourceConfig:
    """One corpus feeding the data group (kind-specific keys are ignored by other kinds).

    kind: local (audiofolder) | hub (datasets.load_dataset id, local parquet/arrow dir) |
    manifest (CSV/TSV/JSONL) | imda_nsc (IMDA NSC folder layout) | kaldi (Kaldi data dirs under `path`,
    a split names a data dir). `splits` maps our split names
    (train/validation/test) to the source's own ("train.100", "dev.tsv", "train+validation").
    """

    kind: str = "local"
    path: str | None = None
    name: str | None = None
    data_dir: str | None = None
    data_files: Any = None
    revision: str | None = None
    text_column: str = "transcription"
    audio_column: str = "audio"
    id_column: str | None = None
    speaker_column: str | None = None
    duration_column: str | None = None
    audio_dir: str | None = None
    splits: dict[str, str] = field(default_factory=lambda: {"train": "train", "validation": "validation",
                                                            "test": "test"})
    imda: ImdaConfig = field(default_factory=ImdaConfig)
    kaldi: KaldiConfig = field(default_factory=KaldiConfig)


@dataclass
class MixConfig:
    """How the training split combines several sources (evaluation splits always keep every source whole)."""

    strategy: str = "interleave"
    probabilities: dict[str, float] | None = None
    stopping_strategy: str = "all_exhausted"
    seed: int = 42


@dataclass
class FeatureConfig:
    """Log-mel cache settings."""

    cache: bool = True
    dtype: str = "float32"


@dataclass
class PackingConfig:
    """30-second packing of short training utterances (whisper_exp/data/packing.py); Whisper only."""

    enabled: bool = False
    max_seconds: float = 30.0
    # Silence between packed utterances.
    gap_seconds: float = 0.2


@dataclass
class DataConfig:
    """Sources, filters, subsets and loaders."""

    name: str = "???"
    help: str = ""
    path: str | None = None
    root: str | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    mix: MixConfig = field(default_factory=MixConfig)
    streaming: bool = False
    shuffle_buffer: int = 1000
    stream_shards: int = 8
    sampling_rate: int = 16000
    train_samples: int | None = None
    validation_samples: int | None = None
    test_samples: int | None = None
    # Named evaluation sets, each scored and reported on its own (LibriSpeech: [dev-clean, dev-other]); each name
    # is a key of the sources' `splits`. null: one set named "validation" / "test". The first is the primary set
    # (val/wer, the best-checkpoint monitor, summary wer / best_val_wer / baseline_wer).
    validation_sets: list[str] | None = None
    test_sets: list[str] | None = None
    min_duration_s: float = 0.1
    max_duration_s: float = 30.0
    on_error: str = "raise"
    # Text files (metadata.csv, manifests, IMDA SCRIPT/*.TXT) that have no byte-order mark and are not UTF-8 are
    # read in this encoding (e.g. cp1252); null: such a file fails naming its line (data/text_encoding.py).
    encoding: str | None = None
    text_normaliser: str = "auto"
    label_leading_space: bool = True
    batch_size: int = 8
    eval_batch_size: int = 16
    num_workers: int = 0
    # Training batches of similar durations (data.batching.LengthGroupedSampler): less padding for CTC.
    group_by_length: bool = False
    # Batches per length-sorted mega-batch (larger: more uniform batches, less randomness).
    length_group_batches: int = 50
    features: FeatureConfig = field(default_factory=FeatureConfig)
    packing: PackingConfig = field(default_factory=PackingConfig)


@dataclass
class OptimizerConfig:
    """AdamW + LR schedule; `optimizer` and `scheduler` are Hydra `_target_` partials."""

    name: str = "rule_of_thumb"
    lr: float = 0.0
    lr_divisor: float = 40.0
    warmup_steps: int | None = None
    warmup_fraction: float = 0.1
    no_decay: list[str] = field(default_factory=lambda: ["bias", "layer_norm.weight"])
    optimizer: Any = None
    scheduler: Any = None
    # Filled in by validate_config: how the LR was chosen (for the log and summary.json).
    lr_source: str = ""


@dataclass
class LoraSettings:
    """PEFT LoRA adapters (finetune=lora / lora_8bit): the base model is frozen, only adapters train."""

    enabled: bool = False
    r: int = 32
    alpha: int = 64
    dropout: float = 0.05
    # Module names to adapt (["q_proj", "v_proj"]: PEFT's Whisper recipe) or "all-linear".
    target_modules: Any = field(default_factory=lambda: ["q_proj", "v_proj"])
    bias: str = "none"
    # Lightning checkpoints hold only the adapter weights (the frozen base is re-read from its source).
    adapter_only_checkpoints: bool = True
    # Whole modules trained (and saved with the adapters) besides the adapters: [lm_head] for a new CTC head.
    modules_to_save: list[str] = field(default_factory=list)


@dataclass
class EncoderCacheSettings:
    """Frozen-encoder output cache (whisper_exp/models/encoder_cache.py): the frozen prefix runs once per clip."""

    enabled: bool = False
    # Storage precision of the cached hidden states: float16 | bfloat16.
    dtype: str = "float16"


@dataclass
class FinetuneConfig:
    """What is trained: frozen encoder layers, frozen decoder, LoRA adapters, 8-bit base weights."""

    name: str = "full"
    # Encoder layers frozen from the input side (with the conv stem and positions): 0 = none, N, or "all".
    frozen_layers: Any = 0
    freeze_decoder: bool = False
    # CTC models only: keep the convolutional feature encoder (waveform → frames) frozen, the usual recipe.
    freeze_feature_encoder: bool = True
    lora: LoraSettings = field(default_factory=LoraSettings)
    # bitsandbytes int8 base weights (needs CUDA and lora.enabled).
    load_in_8bit: bool = False
    encoder_cache: EncoderCacheSettings = field(default_factory=EncoderCacheSettings)


@dataclass
class StrategyConfig:
    """Lightning strategy, devices and nodes (strategy-specific keys are ignored by the others)."""

    name: str = "auto"
    strategy: str = "auto"
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    # null: Lightning's choice (nccl on GPUs, gloo on CPUs).
    process_group_backend: str | None = None
    # ddp: only needed when some *trainable* parameter gets no gradient in a step (frozen ones never matter).
    find_unused_parameters: bool = False
    # fsdp
    sharding_strategy: str = "FULL_SHARD"
    state_dict_type: str = "full"
    cpu_offload: bool = False
    # deepspeed
    zero_stage: int = 2
    offload_optimizer: bool = False


@dataclass
class LossHealthConfig:
    """Early check of the training loss: noisy or not decaying over the first steps hints at a too-high LR."""

    enabled: bool = True
    steps: int = 50
    # Flag when the loss trend climbs more than this fraction above the starting loss…
    max_rise: float = 0.5
    # …or falls by less than this fraction from the window's first to its last quarter…
    min_decrease: float = 0.1
    # …or deviates from its local trend by more than this fraction per step (median).
    max_noise: float = 0.4


@dataclass
class TrainerConfig:
    """Loop length, validation cadence, precision, checkpointing."""

    max_steps: int = -1
    max_epochs: int | None = None
    val_check_interval: Any = 1.0
    check_val_every_n_epoch: int | None = 1
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    # auto: bf16-mixed where the device has native bf16, 16-mixed on CUDA without it, else 32-true
    # (whisper_exp/training/hardware.py); or an explicit Lightning precision.
    precision: str = "auto"
    # torch intra-op threads; null = the usable cores (affinity / cgroup quota).
    num_threads: int | None = None
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = 1.0
    log_every_n_steps: int = 10
    gradient_checkpointing: bool = False
    # Opt-in torch.compile of the transformer blocks (whisper_exp/training/compilation.py).
    compile: bool = False
    compile_backend: str = "inductor"
    compile_mode: str | None = None
    deterministic: bool = False
    baseline_eval: bool = True
    monitor: str = "val/wer"
    monitor_mode: str = "min"
    save_top_k: int = 1
    save_last: bool = True
    enable_progress_bar: bool = True
    fast_dev_run: bool = False
    overfit_batches: float = 0.0
    # Resume a stopped run: null | last (this run dir's last.ckpt, else the newest one of this task) | PATH
    # (a .ckpt or a run dir). Restores weights, optimizer, LR schedule and data position.
    resume: str | None = None
    # Also write checkpoints/last.ckpt every N optimiser steps (null: only at validation).
    checkpoint_every_n_steps: int | None = None
    # SIGTERM / SIGINT: finish the current step, write checkpoints/last.ckpt, exit.
    checkpoint_on_signal: bool = True
    loss_health: LossHealthConfig = field(default_factory=LossHealthConfig)
    # More Lightning callbacks: a list of {_target_: dotted.Class, ...} instantiated by Hydra.
    extra_callbacks: list[Any] = field(default_factory=list)


@dataclass
class LoggerConfig:
    """Experiment tracking: wandb (online/offline), csv or none."""

    name: str = "wandb"
    project: str = "whisper_exp"
    entity: str | None = None
    group: str | None = None
    mode: str = "auto"
    log_model: bool = False


@dataclass
class GenerationConfig:
    """How evaluation decodes."""

    language: str | None = None
    task: str | None = "transcribe"
    num_beams: int = 1
    max_new_tokens: int = 225
    log_examples: int = 20


@dataclass
class ExportConfig:
    """Export of the best model as a Hugging Face folder."""

    enabled: bool = True
    dirname: str = "hf_model"


@dataclass
class EvalConfig:
    """Grouped WER with speaker-bootstrap intervals, and extra evaluation sets (whisper_exp/evaluation.py)."""

    # Metadata columns to report WER by (speaker, gender, age, age_group, or any a reader records).
    group_by: list[str] = field(default_factory=list)
    # Speaker-bootstrap resamples for the intervals (0: none), their seed and coverage.
    bootstrap_resamples: int = 1000
    bootstrap_seed: int = 0
    confidence: float = 0.95
    # Named sources scored zero-shot and after fine-tuning (their test split): {name: source config}.
    extra_sets: dict[str, SourceConfig] = field(default_factory=dict)


@dataclass
class RunConfig:
    """The validated run: one attribute per group."""

    task_name: str
    seed: int
    tags: list[str]
    cache_dir: str
    output_dir: str
    model: ModelConfig
    data: DataConfig
    optimizer: OptimizerConfig
    finetune: FinetuneConfig
    strategy: StrategyConfig
    trainer: TrainerConfig
    logger: LoggerConfig
    generation: GenerationConfig
    export: ExportConfig
    eval: EvalConfig = field(default_factory=EvalConfig)


GROUPS: dict[str, type] = {
    "model": ModelConfig, "data": DataConfig, "optimizer": OptimizerConfig, "finetune": FinetuneConfig,
    "strategy": StrategyConfig, "trainer": TrainerConfig, "logger": LoggerConfig,
    "generation": GenerationConfig, "export": ExportConfig, "eval": EvalConfig,
}
CHOICES = {
    ("model", "family"): ("whisper", "ctc"),
    ("model", "source"): ("auto", "hub", "bundled", "local"),
    ("data", "on_error"): ("raise", "skip"),
    ("data", "text_normaliser"): ("auto", "english", "basic", "none"),
    ("logger", "name"): ("wandb", "csv", "none"),
    ("logger", "mode"): ("auto", "online", "offline", "disabled"),
    ("trainer", "monitor_mode"): ("min", "max"),
    ("trainer", "precision"): ("auto", "32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true"),
    ("strategy", "strategy"): ("auto", "ddp", "ddp_spawn", "fsdp", "deepspeed"),
    ("strategy", "sharding_strategy"): ("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD"),
    ("strategy", "state_dict_type"): ("full", "sharded"),
}


def _missing_message(cfg: DictConfig, key: str) -> str:
    group = key.split(".")[0]
    hint = OmegaConf.select(cfg, f"{group}.help", default="") if group == "data" else ""
    return f"missing required config value {key!r}: set it on the command line, e.g. {key}=…" + (
        f" ({hint})" if hint else "")


def _missing_keys(node: Any, prefix: str = "") -> list[str]:
    """Keys whose value is `???`, found without resolving interpolations (unlike OmegaConf.missing_keys)."""
    found: list[str] = []
    if not isinstance(node, DictConfig):
        return found
    for key in node:
        if key == "hydra":
            continue
        if OmegaConf.is_missing(node, key):
            found.append(f"{prefix}{key}")
            continue
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not OmegaConf.is_interpolation(node, key):
            found += _missing_keys(child, f"{prefix}{key}.")
    return found


def _typed(cfg: DictConfig, group: str, schema: type) -> Any:
    node = cfg.get(group)
    if node is None:
        raise ConfigError(f"config group {group!r} is missing from the composed config")
    plain = OmegaConf.to_container(node, resolve=True)
    passthrough = {k: plain.pop(k) for k in ("optimizer", "scheduler") if schema is OptimizerConfig and k in plain}
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), plain)
        obj = OmegaConf.to_object(merged)
    except (ConfigKeyError, ValidationError) as err:
        raise ConfigError(f"invalid config in group {group!r}: {err.msg if hasattr(err, 'msg') else err}") from err
    except MissingMandatoryValue as err:
        raise ConfigError(_missing_message(cfg, f"{group}.{err.full_key}")) from err
    for name, value in passthrough.items():
        setattr(obj, name, value)
    return obj


def _declared_splits(cfg: DictConfig, data: DataConfig) -> None:
    """A source's `splits` as written: the structured merge would add the default train/validation/test keys
    to it, and a source without a training split (LibriSpeech "other") would then be asked for one."""
    sources = OmegaConf.to_container(cfg.data, resolve=True).get("sources") or {}
    for name, source in data.sources.items():
        declared = (sources.get(name) or {}).get("splits")
        if isinstance(declared, dict):
            source.splits = {str(key): str(value) for key, value in declared.items()}


def _check_finetune(finetune: FinetuneConfig) -> None:
    """Combinations of finetune keys that cannot work, named by key."""
    layers = finetune.frozen_layers
    if layers is None:
        raise ConfigError(f"finetune={finetune.name} needs finetune.frozen_layers=N (encoder layers to freeze, "
                          "or 'all')")
    if not (layers == "all" or (isinstance(layers, int) and not isinstance(layers, bool) and layers >= 0)):
        raise ConfigError(f"finetune.frozen_layers={layers!r} must be an integer >= 0 or 'all'")
    lora = finetune.lora
    if lora.bias not in ("none", "all", "lora_only"):
        raise ConfigError(f"finetune.lora.bias={lora.bias!r} is not one of ('none', 'all', 'lora_only')")
    if lora.r < 1 or not 0 <= lora.dropout < 1:
        raise ConfigError("finetune.lora.r must be >= 1 and finetune.lora.dropout in [0, 1)")
    if lora.enabled and (layers != 0 or finetune.freeze_decoder):
        raise ConfigError("finetune.lora.enabled freezes the whole base model already: leave "
                          "finetune.frozen_layers=0 and finetune.freeze_decoder=false")
    cache = finetune.encoder_cache
    if cache.enabled and (layers == 0 or lora.enabled):
        raise ConfigError("finetune.encoder_cache.enabled caches the output of frozen encoder layers: set "
                          "finetune.frozen_layers=N>0 (or 'all') and leave finetune.lora.enabled=false")
    if cache.dtype not in ("float16", "bfloat16"):
        raise ConfigError(f"finetune.encoder_cache.dtype={cache.dtype!r} is not one of ('float16', 'bfloat16')")
    if finetune.load_in_8bit and not lora.enabled:
        raise ConfigError("finetune.load_in_8bit=true trains adapters on frozen int8 weights: it needs "
                          "finetune.lora.enabled=true (use finetune=lora_8bit)")


def _check_choices(run: RunConfig) -> None:
    for (group, key), allowed in CHOICES.items():
        value = getattr(getattr(run, group), key)
        if value not in allowed:
            raise ConfigError(f"{group}.{key}={value!r} is not one of {allowed}")
    _check_finetune(run.finetune)
    if run.trainer.checkpoint_every_n_steps is not None and run.trainer.checkpoint_every_n_steps < 1:
        raise ConfigError("trainer.checkpoint_every_n_steps must be >= 1 (or null)")
    if run.trainer.loss_health.steps < 4:
        raise ConfigError("trainer.loss_health.steps must be >= 4 (a trend needs a few points)")
    if run.optimizer.lr <= 0:
        raise ConfigError(f"optimizer.lr must be > 0 (got {run.optimizer.lr}); set it or model.pretrain_lr")
    if not 0 <= run.optimizer.warmup_fraction < 1:
        raise ConfigError("optimizer.warmup_fraction must be in [0, 1)")
    if run.data.batch_size < 1 or run.data.eval_batch_size < 1:
        raise ConfigError("data.batch_size and data.eval_batch_size must be >= 1")
    if run.data.max_duration_s > 30.0 and run.model.family == "whisper":
        raise ConfigError("data.max_duration_s > 30 s: Whisper's encoder sees at most 30 s per sample; "
                          "longer audio would be silently truncated. Keep it <= 30 or segment the audio.")
    if not run.data.sources:
        raise ConfigError(f"data group {run.data.name!r} defines no sources")
    _check_data(run.data)
    if run.model.family == "ctc":
        _check_ctc(run)


def _check_ctc(run: RunConfig) -> None:
    """Keys of the CTC family (model.ctc.*) and what CTC models cannot do."""
    ctc = run.model.ctc
    if ctc.ctc_loss_reduction not in ("mean", "sum"):
        raise ConfigError(f"model.ctc.ctc_loss_reduction={ctc.ctc_loss_reduction!r} is not one of ('mean', 'sum')")
    for key in ("mask_time_prob", "mask_feature_prob", "feat_proj_dropout", "final_dropout", "layerdrop"):
        if not 0 <= getattr(ctc, key) < 1:
            raise ConfigError(f"model.ctc.{key}={getattr(ctc, key)} must be in [0, 1)")
    specials = (ctc.vocab.word_delimiter, ctc.vocab.unk_token, ctc.vocab.pad_token)
    if len(ctc.vocab.word_delimiter) != 1 or len(set(specials)) != 3:
        raise ConfigError(f"model.ctc.vocab: word_delimiter must be one character and word_delimiter, unk_token and "
                          f"pad_token distinct (got {specials})")
    if run.finetune.freeze_decoder:
        raise ConfigError(f"finetune.freeze_decoder=true: model={run.model.name} (CTC) has no decoder; use "
                          "finetune=full, freeze_encoder_layers or ctc_lora")
    if run.finetune.encoder_cache.enabled:
        raise ConfigError("finetune.encoder_cache is for Whisper's encoder; CTC models do not use it")
    if run.data.streaming and ctc.vocab.chars is None:
        raise ConfigError("data.streaming=true with a CTC model: the vocabulary cannot be read from a stream up "
                          "front; set model.ctc.vocab.chars=[a,b,…] (or train from an exported model with its vocab)")
    if run.data.streaming and run.data.group_by_length:
        raise ConfigError("data.group_by_length=true needs the clips' durations up front: not with data.streaming")


def _check_data(data: DataConfig) -> None:
    """Data keys nested below the group level (mixing, subsets, streaming)."""
    for key, value, allowed in (("mix.strategy", data.mix.strategy, ("interleave", "concatenate")),
                                ("mix.stopping_strategy", data.mix.stopping_strategy,
                                 ("first_exhausted", "all_exhausted"))):
        if value not in allowed:
            raise ConfigError(f"data.{key}={value!r} is not one of {allowed}")
    if data.mix.probabilities is not None:
        unknown = sorted(set(data.mix.probabilities) - set(data.sources))
        if unknown or any(p < 0 for p in data.mix.probabilities.values()) or not sum(
                data.mix.probabilities.values()) > 0:
            raise ConfigError(f"data.mix.probabilities={dict(data.mix.probabilities)} must give a weight >= 0 "
                              f"(not all 0) to sources of data {data.name!r}: {sorted(data.sources)}"
                              + (f"; unknown: {unknown}" if unknown else ""))
    for key in ("train_samples", "validation_samples", "test_samples"):
        value = getattr(data, key)
        if value is not None and value < 1:
            raise ConfigError(f"data.{key}={value} must be >= 1 (or null for all)")
    for key in ("validation_sets", "test_sets"):
        names = getattr(data, key)
        if names is not None and (not names or len(set(names)) < len(names) or "train" in names
                                  or any("/" in str(n) for n in names)):
            raise ConfigError(f"data.{key}={list(names)} must name one or more distinct sets (not 'train', no '/')")
    if data.shuffle_buffer < 1 or data.stream_shards < 1:
        raise ConfigError("data.shuffle_buffer and data.stream_shards must be >= 1")
    packing = data.packing
    if packing.enabled and not (0 < packing.max_seconds <= 30.0 and 0 <= packing.gap_seconds < packing.max_seconds):
        raise ConfigError(f"data.packing.max_seconds={packing.max_seconds} must be in (0, 30] (Whisper's window) "
                          f"and data.packing.gap_seconds={packing.gap_seconds} in [0, max_seconds)")
    if packing.enabled and data.streaming:
        raise ConfigError("data.packing.enabled needs the prepared (non-streaming) training split: "
                          "set data.streaming=false or data.packing.enabled=false")


def validate_config(cfg: DictConfig) -> RunConfig:
    """Resolve and type-check a composed config; raise ConfigError naming the offending key."""
    for key in _missing_keys(cfg):
        raise ConfigError(_missing_message(cfg, key))
    try:
        groups = {group: _typed(cfg, group, schema) for group, schema in GROUPS.items()}
        top = {
            "task_name": cfg.task_name, "seed": int(cfg.seed), "tags": [str(t) for t in cfg.tags],
            "cache_dir": str(cfg.paths.cache_dir), "output_dir": str(cfg.paths.output_dir),
        }
    except MissingMandatoryValue as err:
        raise ConfigError(_missing_message(cfg, str(err.full_key))) from err
    except OmegaConfBaseException as err:
        raise ConfigError(f"cannot resolve config: {err}") from err
    run = RunConfig(**top, **groups)
    _declared_splits(cfg, run.data)
    _check_choices(run)
    rule = OmegaConf.is_interpolation(cfg.optimizer, "lr")
    run.optimizer.lr_source = (f"rule: model.pretrain_lr {run.model.pretrain_lr:g} / {run.optimizer.lr_divisor:g}"
                               if rule else "set explicitly (optimizer.lr)")
    if rule and run.model.finetune_lr is not None:
        run.optimizer.lr_source = f"model.finetune_lr {run.model.finetune_lr:g} (recommended for {run.model.name})"
    return run
