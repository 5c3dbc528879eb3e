"""Throughput benchmark: whisper_exp vs transformers' Seq2SeqTrainer on the same data, model and threads.

Run `make bench` (or `python experiments/throughput/bench.py --help`). Each measurement runs in its own
worker process (so peak RSS is per system) and the two systems alternate, A B B A …, so machine noise
shows in the spread instead of biasing one side. Printed per mode: samples/s, audio-seconds/s, peak RSS
(min and median over repetitions), the ratio ours/peer pair by pair, and achieved GFLOP/s against a
matmul peak measured in the same run.

The peer is the library's own `Seq2SeqTrainer` configured equivalently (same batch size, LR, schedule,
clipping, precision, features precomputed before timing as its speech-recognition recipe does, labels
identical to ours); the data collator is ours because the library ships none for speech seq2seq.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "whisper_exp" / "data" / "demo_sg"
MODES = ("full", "frozen", "packed", "eval")
# The peer has no packing: packed training is compared with the peer's full fine-tuning.
PEER_MODE = {"packed": "full"}
SYSTEMS = ("ours", "peer")
# --precision / --peer-precision: fp32, or bf16 autocast over fp32 weights; auto (the default) = what the CPU
# runs natively (whisper_exp.training.hardware: bf16 with AVX512-BF16/AMX, else fp32).
LIGHTNING_PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}
PRECISION_CHOICES = ("auto", *LIGHTNING_PRECISION)


# ----------------------------------------------------------------------------------------------- workers


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


def _subset(train: int, test: int, out: Path) -> tuple[Path, list[dict[str, str]], list[dict[str, str]]]:
    """An audiofolder (metadata.csv only) over the first demo clips: `train` train, 1 validation, `test` test."""
    import csv

    with (DEMO / "metadata.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    chosen = {"train": [r for r in rows if r["split"] == "train"][:train],
              "validation": [r for r in rows if r["split"] == "validation"][:1],
              "test": [r for r in rows if r["split"] == "test"][:test]}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file_name", "transcription", "split"])
        writer.writeheader()
        for split, picked in chosen.items():
            for row in picked:
                writer.writerow({"file_name": str(DEMO / row["file_name"]), "transcription": row["transcription"],
                                 "split": split})
    return out, chosen["train"], chosen["test"]


def _audio_seconds(rows: list[dict[str, str]]) -> float:
    import soundfile as sf

    return sum(sf.info(str(DEMO / r["file_name"])).duration for r in rows)


def _precision(args: argparse.Namespace, system: str) -> str:
    """The precision `system` runs at: --peer-precision for the peer, --precision otherwise."""
    return args.peer_precision if system == "peer" else args.precision


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ours_components(args: argparse.Namespace, data_dir: Path, overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from whisper_exp.__main__ import CONFIG_DIR
    from whisper_exp.config.schema import validate_config
    from whisper_exp.run import build_components

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "model=tiny.en", "data=local", f"data.path={data_dir}", f"data.batch_size={args.batch}",
            f"data.eval_batch_size={args.batch}", "logger=none", "trainer.enable_progress_bar=false",
            "trainer.baseline_eval=false", f"trainer.precision={LIGHTNING_PRECISION[args.precision]}",
            "trainer.max_epochs=null",
            f"paths.output_dir={args.workdir}/run", *overrides])
    run = validate_config(cfg)
    return run, build_components(run)


class _StepClock:
    """Start time, utterances and audio seconds of each optimisation step (data loading included)."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.utterances: list[int] = []
        self.audio: list[float] = []
        self.end = 0.0

    def mark(self, utterances: int, audio_seconds: float) -> None:
        self.starts.append(time.perf_counter())
        self.utterances.append(utterances)
        self.audio.append(audio_seconds)

    def rates(self, first: int, stop: int | None = None) -> tuple[float, float]:
        """(utterances/s, audio-s/s) over steps first..stop-1."""
        stop = len(self.starts) if stop is None else stop
        ends = [*self.starts[1:], self.end]
        seconds = ends[stop - 1] - self.starts[first]
        return sum(self.utterances[first:stop]) / seconds, sum(self.audio[first:stop]) / seconds


def worker_ours(args: argparse.Namespace) -> dict[str, Any]:
    import lightning as L

    from whisper_exp.training.trainer import build_trainer

    steps = args.warmup + args.steps
    if args.mode == "eval":
        data_dir, _, rows = _subset(1, args.eval_clips, Path(args.workdir) / "data")
        run, parts = _ours_components(args, data_dir, [f"trainer.max_steps={steps}"])
        parts.datamodule.setup("test")  # features are precomputed before timing, as for the peer
        trainer = build_trainer(run.trainer, run.strategy, Path(args.workdir), None)
        started = time.perf_counter()
        trainer.test(parts.task, datamodule=parts.datamodule, verbose=False)
        seconds = time.perf_counter() - started
        acc = parts.task.accumulators[0]  # the one evaluation set
        order = sorted(range(len(acc.ids)), key=lambda i: acc.ids[i])
        return {"clips_per_s": len(rows) / seconds, "audio_s_per_s": _audio_seconds(rows) / seconds,
                "texts": [acc.predictions[i].strip() for i in order], "peak_rss_mb": _peak_rss_mb()}
    extra: list[str] = []
    clips, warmup = args.batch * steps, args.warmup
    if args.mode == "frozen":
        # Encoder cache: the first epoch (all `steps` batches) fills it; timing starts with the second epoch.
        extra = ["finetune.frozen_layers=all", "finetune.encoder_cache.enabled=true",
                 f"paths.cache_dir={args.workdir}/cache"]
        clips, warmup, steps = args.batch * args.steps, args.steps, 2 * args.steps
    elif args.mode == "packed":
        # Windows of ≤ 30 s hold several clips: enough clips for `steps` batches of windows.
        extra = ["data.packing.enabled=true"]
        clips = args.packed_clips
    data_dir, _, _ = _subset(clips, 1, Path(args.workdir) / "data")
    run, parts = _ours_components(args, data_dir, [f"trainer.max_steps={steps}", "trainer.val_check_interval=1.0",
                                                   "trainer.limit_val_batches=0", *extra])
    parts.datamodule.setup("fit")
    clock = _StepClock()

    class Clock(L.Callback):
        def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: dict,
                                 batch_idx: int) -> None:
            clock.mark(int(batch["n_utterances"]), float(batch["audio_seconds"]))

        def on_train_batch_end(self, *a: Any) -> None:  # the end of the step, before any checkpoint saving
            clock.end = time.perf_counter()

    trainer = build_trainer(run.trainer, run.strategy, Path(args.workdir), None, extra_callbacks=[Clock()])
    trainer.fit(parts.task, datamodule=parts.datamodule)
    rate, audio_rate = clock.rates(warmup)
    outcome = {"samples_per_s": rate, "audio_s_per_s": audio_rate, "peak_rss_mb": _peak_rss_mb()}
    if args.mode == "frozen":
        outcome["first_epoch_samples_per_s"] = clock.rates(1, warmup)[0]
        outcome["cache_disk_mb"] = parts.task.encoder_cache.disk_bytes() / 2**20
    return outcome


def _peer_dataset(processor, rows: list[dict[str, str]], english_only: bool):
    """Features + labels the way the speech-recognition recipe prepares them (features precomputed)."""
    import numpy as np
    from datasets import Dataset

    from whisper_exp.data.audio import AudioRef, load_audio
    from whisper_exp.families.whisper_labels import WhisperLabeller

    labeller = WhisperLabeller(processor.tokenizer, english_only=english_only, language=None, task=None)
    features = [processor.feature_extractor(load_audio(AudioRef(path=str(DEMO / r["file_name"])), 16_000),
                                            sampling_rate=16_000, return_tensors="np").input_features[0]
                for r in rows]
    return Dataset.from_dict({"input_features": [np.asarray(f) for f in features],
                              "labels": [labeller(r["transcription"]) for r in rows]})


def _peer_collate(items: list[dict]) -> dict:
    import torch

    from whisper_exp.data.collate import pad_labels

    return {"input_features": torch.stack([torch.as_tensor(i["input_features"]) for i in items]),
            "labels": pad_labels([i["labels"] for i in items])}


def worker_peer(args: argparse.Namespace) -> dict[str, Any]:
    from transformers import (
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        TrainerCallback,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    from whisper_exp.models.bundled import convert_bundled

    model_dir = convert_bundled("tiny.en", Path(args.cache_dir))
    processor = WhisperProcessor.from_pretrained(model_dir)
    model = WhisperForConditionalGeneration.from_pretrained(model_dir)
    model.generation_config.forced_decoder_ids = None
    steps = args.warmup + args.steps
    common = dict(output_dir=str(Path(args.workdir) / "peer"), per_device_train_batch_size=args.batch,
                  per_device_eval_batch_size=args.batch, learning_rate=3.75e-5, warmup_steps=0.1,
                  lr_scheduler_type="linear", max_grad_norm=1.0, max_steps=steps, save_strategy="no",
                  report_to="none", use_cpu=True, dataloader_num_workers=0, remove_unused_columns=False,
                  logging_steps=1000, predict_with_generate=True, generation_max_length=225, seed=42,
                  bf16=args.precision == "bf16")
    training_args = Seq2SeqTrainingArguments(**common)
    if args.mode == "eval":
        _, _, rows = _subset(1, args.eval_clips, Path(args.workdir) / "data")
        dataset = _peer_dataset(processor, rows, english_only=True)
        trainer = Seq2SeqTrainer(model=model, args=training_args, data_collator=_peer_collate)
        started = time.perf_counter()
        output = trainer.predict(dataset, max_new_tokens=225, num_beams=1)
        seconds = time.perf_counter() - started
        ids = output.predictions
        ids[ids == -100] = processor.tokenizer.pad_token_id
        texts = [t.strip() for t in processor.tokenizer.batch_decode(ids, skip_special_tokens=True)]
        order = sorted(range(len(rows)), key=lambda i: str(DEMO / rows[i]["file_name"]))
        return {"clips_per_s": len(rows) / seconds, "audio_s_per_s": _audio_seconds(rows) / seconds,
                "texts": [texts[i] for i in order], "peak_rss_mb": _peak_rss_mb()}
    _, rows, _ = _subset(args.batch * steps, 1, Path(args.workdir) / "data")
    dataset = _peer_dataset(processor, rows, english_only=True)
    if args.mode == "frozen":
        model.model.encoder.requires_grad_(False)
    clock = _StepClock()
    # The peer's batches are not visible to a callback: each step counts the mean clip duration.
    batch_audio = args.batch * _audio_seconds(rows) / len(rows)

    class Clock(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            clock.mark(args.batch, batch_audio)

        def on_step_end(self, *a: Any, **k: Any) -> None:
            clock.end = time.perf_counter()

    trainer = Seq2SeqTrainer(model=model, args=training_args, train_dataset=dataset, data_collator=_peer_collate,
                             callbacks=[Clock()])
    trainer.train()
    rate, audio_rate = clock.rates(args.warmup)
    return {"samples_per_s": rate, "audio_s_per_s": audio_rate, "peak_rss_mb": _peak_rss_mb()}


def worker_flops(args: argparse.Namespace) -> dict[str, Any]:
    """FLOPs per training sample (forward + backward) or per evaluated clip (encoder + decoding)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import WhisperForConditionalGeneration

    from whisper_exp.models.bundled import convert_bundled

    model = WhisperForConditionalGeneration.from_pretrained(convert_bundled("tiny.en", Path(args.cache_dir)))
    features = torch.randn(args.batch, 80, 3000)
    labels = torch.randint(0, 50000, (args.batch, args.label_tokens))
    if args.mode == "frozen":
        model.model.encoder.requires_grad_(False)
    with FlopCounterMode(display=False) as counter:
        model(input_features=features, labels=labels).loss.backward()
    return {"flops_per_sample": counter.get_total_flops() / args.batch}


def worker_peak(args: argparse.Namespace) -> dict[str, Any]:
    """Matmul GFLOP/s in fp32 and bf16 with the benchmark's thread count (best of a few repeats each)."""
    import torch

    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
        best = 0.0
        for _ in range(8):
            started = time.perf_counter()
            for _ in range(4):
                torch.mm(a, b)
            best = max(best, 4 * 2 * 2048**3 / (time.perf_counter() - started) / 1e9)
        peaks[name] = best
    return peaks


WORKERS = {"ours": worker_ours, "peer": worker_peer, "flops": worker_flops, "peak": worker_peak}


# ---------------------------------------------------------------------------------------------- orchestration


def _spawn(args: argparse.Namespace, system: str, mode: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_") as workdir:
        command = [sys.executable, __file__, "--worker", system, "--mode", mode, "--workdir", workdir,
                   "--batch", str(args.batch), "--steps", str(args.steps), "--warmup", str(args.warmup),
                   "--eval-clips", str(args.eval_clips), "--threads", str(args.threads),
                   "--packed-clips", str(args.packed_clips),
                   "--cache-dir", args.cache_dir, "--label-tokens", str(args.label_tokens),
                   "--precision", _precision(args, system)]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{system}/{mode} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stats(values: list[float]) -> str:
    return f"{min(values):8.2f} {statistics.median(values):8.2f}"


def _pairs(results: dict[tuple[str, str], list[dict[str, Any]]], mode: str) -> list[tuple[dict, dict]]:
    """(ours, peer) outcomes of the same repetition; packed training is paired with the peer's full run."""
    return list(zip(results[("ours", mode)], results[("peer", PEER_MODE.get(mode, mode))], strict=True))


def orchestrate(args: argparse.Namespace) -> None:
    peak_before = _spawn(args, "peak", "full")
    flops_full = _spawn(args, "flops", "full")["flops_per_sample"]
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    peer_modes = {PEER_MODE.get(m, m) for m in args.modes}
    for rep in range(args.reps):
        for mode in [*args.modes, *sorted(peer_modes - set(args.modes))]:
            order = SYSTEMS if rep % 2 == 0 else SYSTEMS[::-1]
            for system in order:
                if (system == "peer" and mode not in peer_modes) or (system == "ours" and mode not in args.modes):
                    continue
                outcome = _spawn(args, system, mode)
                results.setdefault((system, mode), []).append(outcome)
                rate = outcome.get("samples_per_s", outcome.get("clips_per_s"))
                print(f"rep {rep} {mode:6s} {system:4s} {rate:6.2f}/s  audio {outcome['audio_s_per_s']:6.2f} s/s  "
                      f"rss {outcome['peak_rss_mb']:.0f} MB", flush=True)
    peak_after = _spawn(args, "peak", "full")
    peak = {name: max(peak_before[name], peak_after[name]) for name in peak_before}
    print(f"\nmatmul peak ({args.threads} threads), GFLOP/s before / after: "
          + ", ".join(f"{name} {peak_before[name]:.0f} / {peak_after[name]:.0f}" for name in peak))
    print(machine_block(args))
    print(f"batch {args.batch}, {args.steps} timed steps after {args.warmup} warm-up (frozen: 2nd epoch of "
          f"{args.steps} steps; packed: windows from {args.packed_clips} clips), eval {args.eval_clips} clips, "
          f"{args.reps} repetitions (A/B order alternated)\n")
    print(f"{'mode':7s} {'system':6s} {'utt/s min':>10s} {'median':>8s} {'audio-s/s':>9s} {'median':>8s} "
          f"{'RSS MB':>7s} {'GFLOP/s':>8s} {'% peak':>6s}")
    for mode in [*args.modes, *sorted(peer_modes - set(args.modes))]:
        key = "clips_per_s" if mode == "eval" else "samples_per_s"
        for system in SYSTEMS:
            runs = results.get((system, mode))
            if not runs:
                continue
            rates = [r[key] for r in runs]
            audio = [r["audio_s_per_s"] for r in runs]
            rss = statistics.median(r["peak_rss_mb"] for r in runs)
            # FLOPs are counted for full fine-tuning only: cached/packed runs skip or reshape work.
            achieved = statistics.median(rates) * flops_full / 1e9 if mode == "full" else float("nan")
            print(f"{mode:7s} {system:6s} {_stats(rates)}   {_stats(audio)} {rss:7.0f} {achieved:8.1f} "
                  f"{100 * achieved / peak[_precision(args, system)]:6.1f}")
        if mode not in args.modes:
            continue
        ratio_key = "audio_s_per_s" if mode == "packed" else key
        ratios = [o[ratio_key] / p[ratio_key] for o, p in _pairs(results, mode)]
        print(f"{mode:7s} ratio ours/peer ({ratio_key}) per pair: {', '.join(f'{r:.2f}' for r in ratios)} "
              f"(min {min(ratios):.2f}, median {statistics.median(ratios):.2f})")
        if mode == "frozen":
            ours = results[("ours", mode)]
            first = statistics.median(o["first_epoch_samples_per_s"] for o in ours)
            print(f"frozen  ours first epoch (filling the cache): {first:.2f} utt/s; cache on disk "
                  f"{statistics.median(o['cache_disk_mb'] for o in ours):.1f} MB")
        if mode == "eval":
            same = [sum(a == b for a, b in zip(o["texts"], p["texts"], strict=True)) for o, p in _pairs(results, mode)]
            print(f"eval    transcripts identical to the peer's greedy decoding, per pair: "
                  f"{', '.join(f'{n}/{args.eval_clips}' for n in same)}")


def machine_block(args: argparse.Namespace) -> str:
    """CPU model, the flags that decide the kernels, usable cores, threads and the precision of each system."""
    import torch

    from whisper_exp.training.hardware import REPORTED_FLAGS, cpu_info

    cpu = cpu_info()
    flags = ", ".join(f"{flag} {'yes' if flag in cpu.flags else 'no'}" for flag in REPORTED_FLAGS)
    return "\n".join([
        f"machine: {cpu.model}", f"  flags: {flags}",
        f"  native bf16 (torch/oneDNN): {'yes' if cpu.native_bf16 else 'no'}; usable cores {cpu.usable_cores}; "
        f"torch {torch.__version__}, {args.threads} threads per worker",
        f"  precision: ours {LIGHTNING_PRECISION[args.precision]}, peer "
        f"{'bf16=True' if args.peer_precision == 'bf16' else 'fp32'}"])


def resolve_bench_precision(args: argparse.Namespace) -> None:
    """auto → the CPU's native precision; refuse bf16 on a CPU without native bf16 unless asked to measure it."""
    from whisper_exp.training.hardware import cpu_info, resolve_precision

    cpu = cpu_info()
    for name in ("precision", "peer_precision"):
        value = getattr(args, name)
        if value == "auto":
            value = "bf16" if resolve_precision("auto", "cpu", cpu).precision == "bf16-mixed" else "fp32"
        elif value == "bf16" and not cpu.native_bf16 and not args.allow_emulated_bf16:
            raise SystemExit(f"--{name.replace('_', '-')} bf16 on a CPU without native bf16 ({cpu.describe()}): "
                             "bf16 is emulated here (≈ 50× slower than fp32), so the comparison would measure the "
                             "emulation. Use --precision auto/fp32, or --allow-emulated-bf16 to measure it anyway.")
        setattr(args, name, value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions per system and mode")
    parser.add_argument("--modes", type=lambda s: s.split(","), default=list(MODES), help="full,frozen,eval")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6, help="timed optimisation steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--eval-clips", type=int, default=48)
    parser.add_argument("--packed-clips", type=int, default=440, help="train clips packed for mode 'packed'")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: the usable cores)")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                        help="ours: 32-true or bf16-mixed; the peer: fp32 or bf16=True; auto: the CPU's native one")
    parser.add_argument("--peer-precision", choices=PRECISION_CHOICES, default=None,
                        help="the peer's precision when it differs from --precision")
    parser.add_argument("--allow-emulated-bf16", action="store_true",
                        help="measure bf16 even where the CPU has no native bf16 (slow; labelled as such)")
    parser.add_argument("--label-tokens", type=int, default=24, help="label length for the FLOP count")
    parser.add_argument("--cache-dir", default=os.environ.get("WHISPER_EXP_CACHE",
                                                              str(Path.home() / ".cache" / "whisper_exp")))
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="full", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.peer_precision = args.peer_precision or args.precision
    if args.worker:
        _set_threads(args.threads)
        print(json.dumps(WORKERS[args.worker](args)))
        return
    if args.threads is None:
        from whisper_exp.training.hardware import usable_cores

        args.threads = usable_cores()
    resolve_bench_precision(args)
    print(machine_block(args), flush=True)
    orchestrate(args)


if __name__ == "__main__":
    main()
