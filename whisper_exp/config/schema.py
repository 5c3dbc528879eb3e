"""Typed schemas for the config groups, and the check that turns a composed config into them.

Hydra composes YAML; `validate_config` merges each group onto its dataclass so that an
unknown key, a wrong type or a missing required value fails at start-up with the key's full
name and what to set, instead of deep inside training. Modules receive their own group's
dataclass, never the whole config.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, MissingMandatoryValue, OmegaConfBaseException, ValidationError

from whisper_exp.config.resolvers import lr_rule


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range; the message names the key."""


def choices(*allowed: str) -> dict[str, tuple[str, ...]]:
    """Field metadata: the values a string key may take (checked by `check_choices`, with the key's name)."""
    return {"choices": allowed}


def check_choices(node: Any, prefix: str) -> None:
    """Every field of dataclass `node` (and of the dataclasses below it) declared with `choices` holds one of
    them; ConfigError names the key (`prefix` + field path) otherwise."""
    if not is_dataclass(node):
        return
    for spec in fields(node):
        if spec.metadata.get("family_options"):
            continue  # the family checks its own (families.base.Family.check), under its own key
        value = getattr(node, spec.name)
        allowed = spec.metadata.get("choices")
        if allowed is not None and value not in allowed:
            raise ConfigError(f"{prefix}{spec.name}={value!r} is not one of {allowed}")
        children = value.items() if isinstance(value, dict) else [(None, value)]
        for key, child in children:
            check_choices(child, f"{prefix}{spec.name}." + (f"{key}." if key is not None else ""))


@dataclass
class ModelConfig:
    """One checkpoint: where its weights come from and its published facts.

    `family` names the module of whisper_exp/families/ that loads, labels, featurizes and trains it; that
    family's own settings (YAML key `model.<family options key>`, e.g. `model.ctc`) are typed by the family
    and kept in `options`. No defaults here: every value comes from the model YAMLs (a family base file such
    as conf/model/_whisper.yaml, and the size's own file), documented there.
    """

    family: str
    name: str
    hub_id: str
    source: str = field(metadata=choices("auto", "hub", "bundled", "local"))
    bundled: str | None
    checkpoint: str | None
    params: int
    num_mel_bins: int | None
    english_only: bool
    pretrain_lr: float
    language: str | None
    task: str | None
    max_target_positions: int
    dropout: float
    attention_dropout: float
    activation_dropout: float
    # A recommended fine-tuning LR for checkpoints without a pretraining-LR rule (CTC); wins over the rule.
    finetune_lr: float | None
    # The family's own settings (filled by validate_config from model.<options key>; see families.base).
    options: Any = field(default=None, metadata={"family_options": True})


@dataclass
class ImdaConfig:
    """IMDA National Speech Corpus options (kind=imda_nsc); see whisper_exp/data/sources/imda_nsc.py (values:
    conf/data_common/source/_default.yaml `imda`)."""

    parts: list[int]
    channels: list[int]
    validation_speakers: float
    test_speakers: float
    split_seed: int
    prefer_prompt: bool
    keep_fillers: bool
    drop_unclear: bool


@dataclass
class KaldiConfig:
    """Kaldi data-dir options (kind=kaldi); see whisper_exp/data/sources/kaldi.py (values:
    conf/data_common/source/_default.yaml `kaldi`)."""

    # Folder that relative wav.scp paths are resolved against; null: each data dir's parent (the recipe folder).
    audio_root: str | None
    # Carve speaker-disjoint validation/test from this data dir (split names train/validation/test); null: off.
    carve_from: str | None
    validation_speakers: float
    test_speakers: float
    split_seed: int
    # Speaker metadata column the carve is stratified by (e.g. age_group, gender); null: not stratified.
    stratify_by: str | None
    # With carve_from: a data dir of this name, when present, is the test set (scored in full, no test carved).
    official_test: str | None
    # age (spk2age) → age_group: names[i] below edges[i], the last name above every edge.
    age_group_edges: list[float]
    age_group_names: list[str]


@dataclass
class SourceConfig:
    """One corpus feeding the data group (kind-specific keys are ignored by other kinds).

    kind: local (audiofolder) | hub (datasets.load_dataset id, local parquet/arrow dir) |
    manifest (CSV/TSV/JSONL) | imda_nsc (IMDA NSC folder layout) | kaldi (Kaldi data dirs under `path`,
    a split names a data dir). `splits` maps our split names
    (train/validation/test) to the source's own ("train.100", "dev.tsv", "train+validation").
    Every source (data.sources.*, eval.extra_sets.*) is filled from conf/data_common/source/_default.yaml, the
    one home of these values (config.defaults.with_source_defaults); its `splits`, when given, replace those.
    """

    kind: str
    path: str | None
    name: str | None
    data_dir: str | None
    data_files: Any
    revision: str | None
    text_column: str
    text_case: str = field(metadata=choices("keep", "lower", "sentence"))
    audio_column: str
    id_column: str | None
    speaker_column: str | None
    duration_column: str | None
    audio_dir: str | None
    splits: dict[str, str]
    imda: ImdaConfig
    kaldi: KaldiConfig


@dataclass
class MixConfig:
    """How the training split combines several sources (evaluation splits always keep every source whole);
    values: conf/data_common/default.yaml `mix`."""

    strategy: str = field(metadata=choices("interleave", "concatenate"))
    probabilities: dict[str, float] | None
    stopping_strategy: str = field(metadata=choices("first_exhausted", "all_exhausted"))
    seed: int


@dataclass
class FeatureConfig:
    """Log-mel cache settings (values: conf/data_common/default.yaml `features`)."""

    cache: bool
    dtype: str


@dataclass
class PackingConfig:
    """30-second packing of short training utterances (whisper_exp/data/packing.py); Whisper only (values:
    conf/data_common/default.yaml `packing`)."""

    enabled: bool
    max_seconds: float
    # Silence between packed utterances.
    gap_seconds: float


@dataclass
class TimestampConfig:
    """Timestamp-aware labels for a fraction of training examples (whisper_exp/data/timestamps.py); Whisper only
    (values: conf/data_common/default.yaml `timestamps`)."""

    # Fraction of training examples (clips or packed windows) labelled with timestamp tokens; 0: none.
    probability: float
    # Speech bounds: frames more than this many dB below the clip's loudest frame are silence.
    threshold_db: float
    # Length of the frames whose energy is compared (a multiple of the 10-ms log-mel hop).
    frame_seconds: float


@dataclass
class DataConfig:
    """Sources, filters, subsets and loaders (values: conf/data_common/default.yaml, then each conf/data/ file)."""

    name: str
    help: str
    sources: dict[str, SourceConfig]
    mix: MixConfig
    streaming: bool
    shuffle_buffer: int
    stream_shards: int
    sampling_rate: int
    train_samples: int | None
    validation_samples: int | None
    test_samples: int | None
    # Named evaluation sets, each scored and reported on its own (LibriSpeech: [dev-clean, dev-other]); each name
    # is a key of the sources' `splits`. null: one set named "validation" / "test". The first is the primary set
    # (val/wer, the best-checkpoint monitor, summary wer / best_val_wer / baseline_wer).
    validation_sets: list[str] | None
    test_sets: list[str] | None
    min_duration_s: float
    max_duration_s: float
    on_error: str = field(metadata=choices("raise", "skip"))
    # Text files (metadata.csv, manifests, IMDA SCRIPT/*.TXT) that have no byte-order mark and are not UTF-8 are
    # read in this encoding (e.g. cp1252); null: such a file fails naming its line (data/text_encoding.py).
    encoding: str | None
    text_normaliser: str = field(metadata=choices("auto", "english", "basic", "none"))
    label_leading_space: bool
    batch_size: int
    eval_batch_size: int
    num_workers: int
    # Training batches of similar durations (data.batching.LengthGroupedSampler): less padding for CTC.
    group_by_length: bool
    # Batches per length-sorted mega-batch (larger: more uniform batches, less randomness).
    length_group_batches: int
    features: FeatureConfig
    packing: PackingConfig
    timestamps: TimestampConfig
    # The folders a data config's sources read (data.path, data.root), null unless it sets them. The one default
    # kept here: a data config that requires one writes `???`, and in a merge `???` cannot override a value that
    # conf/data_common/default.yaml would give.
    path: str | None = None
    root: str | None = None


@dataclass
class OptimizerConfig:
    """AdamW + LR schedule; `optimizer` and `scheduler` are Hydra `_target_` partials (values: conf/optimizer/)."""

    name: str
    lr: float
    lr_divisor: float
    warmup_steps: int | None
    warmup_fraction: float
    no_decay: list[str]
    optimizer: Any = None
    scheduler: Any = None
    # Not config values: the partials are set from the YAML after typing, lr_source by validate_config (how the LR
    # was chosen, for the log and summary.json).
    lr_source: str = ""


@dataclass
class LoraSettings:
    """PEFT LoRA adapters (finetune=lora / lora_8bit): the base model is frozen, only adapters train (values:
    conf/finetune/full.yaml `lora`)."""

    enabled: bool
    r: int
    alpha: int
    dropout: float
    # Module names to adapt (["q_proj", "v_proj"]: PEFT's Whisper recipe) or "all-linear".
    target_modules: Any
    bias: str = field(metadata=choices("none", "all", "lora_only"))
    # Lightning checkpoints hold only the adapter weights (the frozen base is re-read from its source).
    adapter_only_checkpoints: bool
    # Whole modules trained (and saved with the adapters) besides the adapters: [lm_head] for a new CTC head.
    modules_to_save: list[str]


@dataclass
class EncoderCacheSettings:
    """Frozen-encoder output cache (whisper_exp/models/encoder_cache.py): the frozen prefix runs once per clip."""

    enabled: bool
    # Storage precision of the cached hidden states: float16 | bfloat16.
    dtype: str = field(metadata=choices("float16", "bfloat16"))


@dataclass
class FinetuneConfig:
    """What is trained: frozen encoder layers, frozen decoder, LoRA adapters, 8-bit base weights."""

    name: str
    # Encoder layers frozen from the input side (with the conv stem and positions): 0 = none, N, or "all".
    frozen_layers: Any
    freeze_decoder: bool
    # CTC models only: keep the convolutional feature encoder (waveform → frames) frozen, the usual recipe.
    freeze_feature_encoder: bool
    lora: LoraSettings
    # bitsandbytes int8 base weights (needs CUDA and lora.enabled).
    load_in_8bit: bool
    encoder_cache: EncoderCacheSettings


@dataclass
class StrategyConfig:
    """Lightning strategy, devices and nodes (strategy-specific keys are ignored by the others)."""

    name: str
    strategy: str = field(metadata=choices("auto", "ddp", "ddp_spawn", "fsdp", "deepspeed"))
    accelerator: str
    devices: Any
    num_nodes: int
    # null: Lightning's choice (nccl on GPUs, gloo on CPUs).
    process_group_backend: str | None
    # ddp: only needed when some *trainable* parameter gets no gradient in a step (frozen ones never matter).
    find_unused_parameters: bool
    # fsdp
    sharding_strategy: str = field(metadata=choices("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD"))
    state_dict_type: str = field(metadata=choices("full", "sharded"))
    cpu_offload: bool
    # deepspeed
    zero_stage: int
    offload_optimizer: bool


@dataclass
class LossHealthConfig:
    """Early check of the training loss: noisy or not decaying over the first steps hints at a too-high LR
    (values: conf/trainer/default.yaml `loss_health`)."""

    enabled: bool
    steps: int
    # Flag when the loss trend climbs more than this fraction above the starting loss…
    max_rise: float
    # …or falls by less than this fraction from the window's first to its last quarter…
    min_decrease: float
    # …or deviates from its local trend by more than this fraction per step (median).
    max_noise: float


@dataclass
class TrainerConfig:
    """Loop length, validation cadence, precision, checkpointing (values: conf/trainer/default.yaml)."""

    max_steps: int
    max_epochs: int | None
    val_check_interval: Any
    check_val_every_n_epoch: int | None
    limit_train_batches: Any
    limit_val_batches: Any
    limit_test_batches: Any
    # auto: bf16-mixed where the device has native bf16, 16-mixed on CUDA without it, else 32-true
    # (whisper_exp/training/hardware.py); or an explicit Lightning precision.
    precision: str = field(metadata=choices("auto", "32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "16-true",
                                            "64-true"))
    # torch intra-op threads; null = the usable cores (affinity / cgroup quota).
    num_threads: int | None
    accumulate_grad_batches: int
    gradient_clip_val: float | None
    log_every_n_steps: int
    gradient_checkpointing: bool
    # Opt-in torch.compile of the transformer blocks (whisper_exp/training/compilation.py).
    compile: bool
    compile_backend: str
    compile_mode: str | None
    deterministic: bool
    baseline_eval: bool
    monitor: str
    monitor_mode: str = field(metadata=choices("min", "max"))
    save_top_k: int
    save_last: bool
    enable_progress_bar: bool
    fast_dev_run: bool
    overfit_batches: float
    # Resume a stopped run: null | last (this run dir's last.ckpt, else the newest one of this task) | PATH
    # (a .ckpt or a run dir). Restores weights, optimizer, LR schedule and data position.
    resume: str | None
    # Also write checkpoints/last.ckpt every N optimiser steps (null: only at validation).
    checkpoint_every_n_steps: int | None
    # SIGTERM / SIGINT: finish the current step, write checkpoints/last.ckpt, exit.
    checkpoint_on_signal: bool
    loss_health: LossHealthConfig
    # More Lightning callbacks: a list of {_target_: dotted.Class, ...} instantiated by Hydra.
    extra_callbacks: list[Any]


@dataclass
class LoggerConfig:
    """Experiment tracking: wandb (online/offline), csv or none (values: conf/logger/_base.yaml, then each option)."""

    name: str = field(metadata=choices("wandb", "csv", "none"))
    project: str
    entity: str | None
    group: str | None
    mode: str = field(metadata=choices("auto", "online", "offline", "disabled"))
    log_model: bool


@dataclass
class GenerationConfig:
    """How evaluation decodes (values: conf/config.yaml `generation`)."""

    language: str | None
    task: str | None
    num_beams: int
    max_new_tokens: int
    tokens_per_second: float | None
    tokens_margin: int
    log_examples: int


@dataclass
class ExportParityConfig:
    """The parity check after every export (whisper_exp.export.parity): a fixed slice of an audiofolder; values:
    conf/config.yaml `export.parity`."""

    enabled: bool
    data_dir: str | None  # an audiofolder (metadata.csv); None: the embedded demo_sg corpus
    split: str
    clips: int
    threshold: float  # minimum fraction of transcripts identical to transformers greedy (float32 exports)
    threshold_quantized: float  # the same for quantized exports (int8*, float16: transcripts change more)
    max_wer_increase: float  # and the export's WER may exceed transformers' by at most this (any format)
    max_new_tokens: int
    encoder_clips: int  # clips whose encoder outputs are compared (backends that expose them)


@dataclass
class ExportConfig:
    """Export of the best model: a Hugging Face folder, and deployable formats (whisper_exp.export); values:
    conf/config.yaml `export`."""

    enabled: bool
    dirname: str
    # hf | ct2 | ggml; the family says which it can write (Family.export_formats).
    formats: list[str]
    quantization: str  # CTranslate2: float32 | int8 | int8_float32 | float16 | …
    ggml_ftype: str = field(metadata=choices("float16", "float32"))
    card: bool  # hf_model/README.md (Hugging Face model card)
    push_to_hub: str | None  # REPO_ID: publish hf_model/ + card (needs a Hugging Face token)
    parity: ExportParityConfig


@dataclass
class HallucinationConfig:
    """What counts as a looping hypothesis (whisper_exp/metrics/hallucination.py); values: conf/config.yaml
    `eval.hallucination`."""

    loop_ngram: int
    loop_count: int


@dataclass
class LongFormConfig:
    """Long-form evaluation on recordings built from consecutive clips (whisper_exp/long_form.py); values:
    conf/config.yaml `eval.long_form`."""

    enabled: bool
    # The evaluation set whose clips are joined (a test or validation set name).
    split: str
    min_seconds: float
    max_seconds: float
    min_gap_seconds: float
    max_gap_seconds: float
    seed: int
    # A true clip boundary counts as found when a predicted segment boundary is this close (seconds).
    boundary_tolerance_seconds: float


@dataclass
class EvalConfig:
    """Grouped WER with speaker-bootstrap intervals, and extra evaluation sets (whisper_exp/evaluation.py);
    values: conf/config.yaml `eval`."""

    # Metadata columns to report WER by (speaker, gender, age, age_group, or any a reader records).
    group_by: list[str]
    # Speaker-bootstrap resamples for the intervals (0: none), their seed and coverage.
    bootstrap_resamples: int
    bootstrap_seed: int
    confidence: float
    # Named sources scored zero-shot and after fine-tuning (their test split): {name: source config}.
    extra_sets: dict[str, SourceConfig]
    hallucination: HallucinationConfig
    long_form: LongFormConfig


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
    eval: EvalConfig


GROUPS: dict[str, type] = {
    "model": ModelConfig, "data": DataConfig, "optimizer": OptimizerConfig, "finetune": FinetuneConfig,
    "strategy": StrategyConfig, "trainer": TrainerConfig, "logger": LoggerConfig,
    "generation": GenerationConfig, "export": ExportConfig, "eval": EvalConfig,
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
    sources_key = {DataConfig: "sources", EvalConfig: "extra_sets"}.get(schema)
    if sources_key and isinstance(plain.get(sources_key), dict):  # each source is filled from the source YAML
        from whisper_exp.config.defaults import with_source_defaults  # it imports this module's dataclasses

        plain[sources_key] = {name: with_source_defaults(source) if isinstance(source, dict) else source
                              for name, source in plain[sources_key].items()}
    if schema is ModelConfig:
        family = _family(plain.get("family", "???"))
        raw = plain.pop(family.options_key, None) if family.options_key else None
        passthrough["options"] = family.typed_options(raw)
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


def _check_finetune(finetune: FinetuneConfig) -> None:
    """Combinations of finetune keys that cannot work, named by key."""
    layers = finetune.frozen_layers
    if layers is None:
        raise ConfigError(f"finetune={finetune.name} needs finetune.frozen_layers=N (encoder layers to freeze, "
                          "or 'all')")
    if not (layers == "all" or (isinstance(layers, int) and not isinstance(layers, bool) and layers >= 0)):
        raise ConfigError(f"finetune.frozen_layers={layers!r} must be an integer >= 0 or 'all'")
    lora = finetune.lora
    if lora.r < 1 or not 0 <= lora.dropout < 1:
        raise ConfigError("finetune.lora.r must be >= 1 and finetune.lora.dropout in [0, 1)")
    if lora.enabled and (layers != 0 or finetune.freeze_decoder):
        raise ConfigError("finetune.lora.enabled freezes the whole base model already: leave "
                          "finetune.frozen_layers=0 and finetune.freeze_decoder=false")
    cache = finetune.encoder_cache
    if cache.enabled and (layers == 0 or lora.enabled):
        raise ConfigError("finetune.encoder_cache.enabled caches the output of frozen encoder layers: set "
                          "finetune.frozen_layers=N>0 (or 'all') and leave finetune.lora.enabled=false")
    if finetune.load_in_8bit and not lora.enabled:
        raise ConfigError("finetune.load_in_8bit=true trains adapters on frozen int8 weights: it needs "
                          "finetune.lora.enabled=true (use finetune=lora_8bit)")


def _check_choices(run: RunConfig) -> None:
    for group in GROUPS:
        check_choices(getattr(run, group), f"{group}.")
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
    if not run.data.sources:
        raise ConfigError(f"data group {run.data.name!r} defines no sources")
    _check_data(run.data)
    _check_eval(run)
    _check_export(run)
    _family(run.model.family).check(run)


def _check_export(run: RunConfig) -> None:
    """export.formats the model's family can write, and the parity thresholds."""
    export = run.export
    available = _family(run.model.family).export_formats
    unknown = [name for name in export.formats if name not in available]
    if unknown:
        raise ConfigError(f"export.formats: {unknown} cannot be written for model={run.model.name} "
                          f"({run.model.family} family); choose from {list(available)}")
    thresholds = (export.parity.threshold, export.parity.threshold_quantized)
    if not all(0 <= t <= 1 for t in thresholds) or export.parity.clips < 1:
        raise ConfigError("export.parity.threshold(_quantized) must be in [0, 1] and export.parity.clips >= 1")


def _family(name: str) -> Any:
    """The model family `name` (whisper_exp.families); ConfigError for an unknown one."""
    from whisper_exp.families import get_family  # families build on this module: imported when first needed

    try:
        return get_family(str(name))
    except ValueError as err:
        raise ConfigError(str(err)) from err


def _check_data(data: DataConfig) -> None:
    """Data keys nested below the group level (mixing, subsets, streaming)."""
    if data.mix.probabilities is not None:
        unknown = sorted(set(data.mix.probabilities) - set(data.sources))
        if unknown:
            raise ConfigError(f"data.mix.probabilities names unknown source(s) {unknown}; the sources of data "
                              f"{data.name!r} are {sorted(data.sources)}")
        mixed = [name for name, source in data.sources.items() if "train" in source.splits]
        if data.mix.strategy == "interleave" and len(mixed) > 1:
            from whisper_exp.data.mixing import probabilities_for  # the one rule for weights: mixing's own

            try:
                probabilities_for(mixed, data.mix)
            except ValueError as err:
                raise ConfigError(str(err)) from err
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
    stamps = data.timestamps
    if not 0 <= stamps.probability <= 1:
        raise ConfigError(f"data.timestamps.probability={stamps.probability} must be in [0, 1] (0: off)")
    if stamps.threshold_db <= 0 or stamps.frame_seconds <= 0:
        raise ConfigError("data.timestamps.threshold_db and data.timestamps.frame_seconds must be > 0")


def _check_eval(run: RunConfig) -> None:
    """Hallucination and long-form settings."""
    settings = run.eval
    if settings.hallucination.loop_ngram < 1 or settings.hallucination.loop_count < 2:
        raise ConfigError("eval.hallucination.loop_ngram must be >= 1 and eval.hallucination.loop_count >= 2")
    long_form = settings.long_form
    if not long_form.enabled:
        return
    if not 0 < long_form.min_seconds <= long_form.max_seconds:
        raise ConfigError(f"eval.long_form.min_seconds={long_form.min_seconds} must be > 0 and <= "
                          f"eval.long_form.max_seconds={long_form.max_seconds}")
    if not 0 <= long_form.min_gap_seconds <= long_form.max_gap_seconds:
        raise ConfigError("eval.long_form: need 0 <= min_gap_seconds <= max_gap_seconds")
    if long_form.boundary_tolerance_seconds <= 0:
        raise ConfigError("eval.long_form.boundary_tolerance_seconds must be > 0")
    if run.data.streaming:
        raise ConfigError("eval.long_form.enabled joins the clips of a prepared evaluation set: set "
                          "data.streaming=false or eval.long_form.enabled=false")
    sets = [*(run.data.validation_sets or ["validation"]), *(run.data.test_sets or ["test"]), *settings.extra_sets]
    if long_form.split not in sets:
        raise ConfigError(f"eval.long_form.split={long_form.split!r} is not an evaluation set of data "
                          f"{run.data.name!r}: choose one of {sets}")


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
    _check_choices(run)
    run.optimizer.lr_source = "set explicitly (optimizer.lr)"
    if OmegaConf.is_interpolation(cfg.optimizer, "lr"):  # the rule (config.resolvers.lr_rule) gave the LR
        run.optimizer.lr_source = lr_rule(run.model.pretrain_lr, run.optimizer.lr_divisor, run.model.finetune_lr,
                                          run.model.name)[1]
    return run
