#!/usr/bin/env bash
# The speechocean762 study (README.md here): zero-shot tiny.en and base, then tiny.en fine-tuned with four
# recipes, each picked by its best validation WER (the test split is scored with that checkpoint), then
# transformers' Seq2SeqTrainer fine-tuning the same model on the same split (time-to-quality).
# Run from the repository root:  bash experiments/speechocean762/run_study.sh /path/to/speechocean762
# Resumable: a finished run (summary.json present) is skipped; an interrupted one resumes from its last.ckpt.
set -euo pipefail
ROOT=${1:-../shared/data/speechocean762}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/speechocean762}
ONLY=${ONLY:-}          # e.g. ONLY="packing lora" runs only those steps

# The zero-shot validation WER is the same for every recipe: measured once (zero_shot_tiny.en), not per run.
COMMON=(experiment=speechocean762 "data.root=$ROOT" trainer.enable_progress_bar=false export.enabled=false)
TRAIN=(trainer.baseline_eval=false)

wanted() { [[ -z "$ONLY" || " $ONLY " == *" $1 "* ]]; }

train() {  # train NAME OVERRIDES...: one fine-tuning run in $OUT/NAME, resumed if interrupted
    local name=$1; shift
    wanted "$name" || return 0
    local dir="$OUT/$name"
    if [[ -f "$dir/summary.json" ]]; then echo "skip $name (done)"; return 0; fi
    local resume=()
    [[ -f "$dir/checkpoints/last.ckpt" ]] && resume=("trainer.resume=$dir/checkpoints/last.ckpt")
    date -u +"start $name %FT%TZ"
    "$PY" -m whisper_exp "${COMMON[@]}" "${TRAIN[@]}" "$@" "${resume[@]}" "hydra.run.dir=$dir" > "$dir.log" 2>&1 \
        || { echo "FAILED $name: see $dir.log"; return 1; }
}

zero_shot() {  # zero_shot NAME MODEL: validation + test (+ real_speech) of the untouched model
    local name=$1 model=$2
    wanted "$name" || return 0
    local dir="$OUT/$name"
    if [[ -f "$dir/summary.json" ]]; then echo "skip $name (done)"; return 0; fi
    date -u +"start $name %FT%TZ"
    "$PY" -m whisper_exp.evaluate "${COMMON[@]}" "model=$model" "hydra.run.dir=$dir" > "$dir.log" 2>&1 \
        || { echo "FAILED $name: see $dir.log"; return 1; }
}

mkdir -p "$OUT"
zero_shot zero_shot_tiny.en tiny.en
# Full fine-tuning of 30-s packed windows (the shipped recipe, conf/experiment/speechocean762.yaml).
train packing
# Frozen encoder prefix (conv stem + first 2 of 4 layers) with its output cached, packed windows.
train frozen_prefix finetune=freeze_encoder_layers finetune.frozen_layers=2 \
    finetune.encoder_cache.enabled=true
# LoRA (PEFT's Whisper recipe: r=32 on q/v) with PEFT's LR, packed windows.
train lora finetune=lora optimizer.lr=1e-3
# The peer: transformers' Seq2SeqTrainer, plain full fine-tuning (one clip per example, batch 8) on the same split,
# same machine and threads. A step costs ~4x a packed step (8 encoder windows instead of 2): 100 steps.
if wanted peer && [[ ! -f "$OUT/peer/summary.json" ]]; then
    date -u +"start peer %FT%TZ"
    "$PY" experiments/speechocean762/peer_seq2seq.py --root "$ROOT" --out "$OUT/peer" --steps 100 --eval-every 50 \
        > "$OUT/peer.log" 2>&1
fi
# What the transcripts' casing does: the shipped recipe trained on the corpus's ALL-CAPS prompts as they are.
train packing_all_caps data.sources.speechocean762.text_case=keep
# Plain full fine-tuning in whisper_exp, one clip per example, batch 8 (the peer's recipe; 100 steps as the peer).
train full data.packing.enabled=false data.batch_size=8 trainer.max_steps=100 trainer.val_check_interval=50
zero_shot zero_shot_base base
"$PY" experiments/speechocean762/report.py "$OUT" --out experiments/speechocean762/results
date -u +"done %FT%TZ"
