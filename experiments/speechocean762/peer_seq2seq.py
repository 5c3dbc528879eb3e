"""The peer for time-to-quality: transformers' Seq2SeqTrainer fine-tuning bundled tiny.en on speechocean762.

The recipe is the library's speech-recognition example as the Whisper fine-tuning blog writes it: features
precomputed with `dataset.map`, labels `tokenizer(text).input_ids`, a padding collator that drops a leading
decoder-start token, `predict_with_generate` evaluation every `--eval-every` steps, linear decay with warm-up.
Only what must match for a fair race is taken from whisper_exp: the same speaker-disjoint train/validation split
(read with whisper_exp's Kaldi reader from the same config), the same LR rule (pretraining LR / 40), batch, the
same precision rule (bf16 autocast where the CPU has native bf16, else fp32) and threads, and WER computed with
the same normaliser. Writes OUT/summary.json with the validation WER and the training seconds (evaluation
excluded) at every evaluation.

    python experiments/speechocean762/peer_seq2seq.py --root ../shared/data/speechocean762 \
        --out outputs/speechocean762/peer
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _split_rows(root: str, cache_dir: str) -> tuple[dict[str, list[dict[str, Any]]], Any]:
    """The train/validation rows of experiment=speechocean762, as whisper_exp reads them, and the run config."""
    from hydra import compose, initialize_config_dir

    from whisper_exp.config.schema import validate_config
    from whisper_exp.data.sources import ReadContext, read_source

    with initialize_config_dir(config_dir=str(REPO / "whisper_exp" / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=speechocean762", f"data.root={root}",
                                           f"paths.cache_dir={cache_dir}", "paths.output_dir=/tmp/peer_unused"])
    run = validate_config(cfg)
    source = run.data.sources["speechocean762"]
    rows = {}
    for split in ("train", "validation"):
        table = read_source("speechocean762", source, source.splits[split], ReadContext())
        rows[split] = [{"audio": audio, "text": text}
                       for audio, text in zip(table["audio"], table["text"], strict=True)]
    return rows, run


class _TrainClock:
    """Training seconds with evaluation excluded, read at each evaluation (a TrainerCallback)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.started: float | None = None
        self.history: list[dict[str, float]] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the speechocean762 folder (WAVE/, train/)")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--eval-batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=None,
                        help="generation length limit (default: what the experiment's duration-scaled limit gives the "
                             "longest validation clip)")
    parser.add_argument("--warmup-ratio", type=float, default=0.1, help="warm-up steps as a fraction of --steps")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "whisper_exp"))
    args = parser.parse_args()

    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import (
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        TrainerCallback,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    from whisper_exp.data.audio import AudioRef, load_audio
    from whisper_exp.metrics.wer import build_normaliser, score
    from whisper_exp.models.bundled import convert_bundled
    from whisper_exp.tasks.whisper import generation_limit
    from whisper_exp.training.hardware import apply_hardware, cpu_info

    started = time.perf_counter()
    rows, run = _split_rows(args.root, args.cache_dir)
    bf16 = apply_hardware("auto", run.trainer.num_threads, "cpu").precision == "bf16-mixed"
    model_dir = convert_bundled("tiny.en", Path(args.cache_dir))
    processor = WhisperProcessor.from_pretrained(model_dir)
    model = WhisperForConditionalGeneration.from_pretrained(model_dir)
    model.generation_config.forced_decoder_ids = None  # as the blog: language/task at generation, not forced
    lr = run.model.pretrain_lr / 40

    def prepare(row: dict[str, Any]) -> dict[str, Any]:
        audio = load_audio(AudioRef.from_datasets(row["audio"]), 16_000)
        features = processor.feature_extractor(audio, sampling_rate=16_000).input_features[0]
        return {"input_features": features, "labels": processor.tokenizer(row["text"]).input_ids,
                "duration": len(audio) / 16_000}

    datasets = {split: Dataset.from_list(split_rows).map(prepare, remove_columns=["audio", "text"])
                for split, split_rows in rows.items()}
    references = [row["text"] for row in rows["validation"]]
    decoder_start = model.config.decoder_start_token_id
    # The library's recipe has one length limit for all batches: the one whisper_exp gives the longest clip.
    max_length = args.max_length or generation_limit(run.generation, datasets["validation"]["duration"])

    def collate(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        features = torch.tensor(np.stack([item["input_features"] for item in items]), dtype=torch.float32)
        labels = processor.tokenizer.pad({"input_ids": [item["labels"] for item in items]}, return_tensors="pt")
        ids = labels["input_ids"].masked_fill(labels.attention_mask.ne(1), -100)
        if (ids[:, 0] == decoder_start).all():
            ids = ids[:, 1:]
        return {"input_features": features, "labels": ids}

    normaliser = build_normaliser("english")

    def compute_metrics(prediction: Any) -> dict[str, float]:
        ids = prediction.predictions
        ids[ids == -100] = processor.tokenizer.pad_token_id
        texts = processor.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return {"wer": score(texts, references, normaliser).wer}

    clock = _TrainClock()

    class Clock(TrainerCallback):
        def on_step_begin(self, *_: Any, **__: Any) -> None:
            if clock.started is None:
                clock.started = time.perf_counter()

        def on_step_end(self, *_: Any, **__: Any) -> None:
            if clock.started is not None:
                clock.seconds += time.perf_counter() - clock.started
                clock.started = None

        def on_evaluate(self, _args: Any, state: Any, _control: Any, metrics: dict[str, float], **__: Any) -> None:
            clock.history.append({"step": state.global_step, "train_s": clock.seconds, "wer": metrics["eval_wer"]})
            print(f"step {state.global_step}: val WER {metrics['eval_wer']:.4f} after {clock.seconds:.0f} s of "
                  "training", flush=True)

    training_args = Seq2SeqTrainingArguments(
        output_dir=str(args.out / "trainer"), per_device_train_batch_size=args.batch,
        per_device_eval_batch_size=args.eval_batch, learning_rate=lr, warmup_steps=args.warmup_ratio,
        lr_scheduler_type="linear", max_grad_norm=1.0, max_steps=args.steps, eval_strategy="steps",
        eval_steps=args.eval_every, save_strategy="no", report_to="none", use_cpu=True, dataloader_num_workers=0,
        remove_unused_columns=False, logging_steps=25, predict_with_generate=True,
        generation_max_length=max_length,
        seed=args.seed, bf16=bf16)
    trainer = Seq2SeqTrainer(model=model, args=training_args, train_dataset=datasets["train"],
                             eval_dataset=datasets["validation"], data_collator=collate,
                             compute_metrics=compute_metrics, callbacks=[Clock()])
    trainer.train()
    best = min(clock.history, key=lambda entry: entry["wer"])
    info = cpu_info()
    summary = {"system": "transformers Seq2SeqTrainer", "model": "tiny.en", "train_samples": len(rows["train"]),
               "validation_samples": len(rows["validation"]), "steps": args.steps, "batch": args.batch, "lr": lr,
               "precision": "bf16-mixed" if bf16 else "32-true", "threads": torch.get_num_threads(),
               "history": clock.history, "best_val_wer": best["wer"], "best_step": best["step"],
               "wall_s": time.perf_counter() - started, "cpu_model": info.model, "cpu_flags": info.flags,
               "python": platform.python_version(), "torch": torch.__version__}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"best val WER {best['wer']:.4f} at step {best['step']}; summary: {args.out / 'summary.json'}")


if __name__ == "__main__":
    main()
