#!/usr/bin/env bash
# Scaling that predicts (README.md here, "Scaling"): tiny.en fine-tuned on nested subsets of the speechocean762
# training split (7 sizes, ×2 from 27 to all 1,760 utterances) × 2 seeds with the study's cheapest recipe (frozen
# encoder, its output cached), each size trained to convergence: validation once per epoch (10-100 steps) on half
# the validation split, early stopping after PATIENCE validations without improvement, test scored with the best
# validation checkpoint.
# Then the fits: every law form on all runs, and the built-in check — fit on sizes <= 1/4 of the largest, predict
# the two largest, compare with the 95 % prediction intervals.
# Run from the repository root:  bash experiments/speechocean762/run_scaling.sh /path/to/speechocean762
# Resumable: a finished run (summary.json) is skipped, an interrupted one resumes from its last.ckpt.
set -euo pipefail
ROOT=${1:-../shared/data/speechocean762}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/speechocean762_scaling}
HERE=${HERE:-experiments/speechocean762/scaling}
SIZES=${SIZES:-"27 55 110 220 440 880 1760"}
SEEDS=${SEEDS:-"1 2"}
BATCH=${BATCH:-8}
PATIENCE=${PATIENCE:-2}      # validations without improvement before stopping
VAL_SAMPLES=${VAL_SAMPLES:-120}  # early stopping reads a fixed half of the validation split (speakers of all ages)
TEST_SAMPLES=${TEST_SAMPLES:-250}  # each run is scored on the same fixed half of the test split
read -r -a EXTRA <<< "${EXTRA:-}"  # more overrides for every run, e.g. EXTRA=data.sources.speechocean762.text_case=keep
FIT_ONLY=${FIT_ONLY:-}         # non-empty: no training, only the fits (e.g. after SEEDS=1 and SEEDS=2 ran side by side)
MAX_STEPS=${MAX_STEPS:-1500}  # a cap that early stopping should reach first

RECIPE=(experiment=speechocean762 "data.root=$ROOT" finetune=freeze_encoder finetune.encoder_cache.enabled=true
        data.packing.enabled=false "data.batch_size=$BATCH" '~eval.extra_sets.real_speech' trainer.baseline_eval=false
        "data.validation_samples=$VAL_SAMPLES" "data.test_samples=$TEST_SAMPLES"
        trainer.max_epochs=null "trainer.max_steps=$MAX_STEPS" trainer.check_val_every_n_epoch=null
        trainer.log_every_n_steps=5 trainer.enable_progress_bar=false export.enabled=false
        "trainer.extra_callbacks=[{_target_: lightning.pytorch.callbacks.EarlyStopping, monitor: val/wer, mode: min, patience: $PATIENCE}]")

mkdir -p "$OUT"
largest=$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -1)
[[ -n "$FIT_ONLY" ]] && SIZES=""
for size in $SIZES; do
    for seed in $SEEDS; do
        dir="$OUT/n${size}_seed${seed}"
        if [[ -f "$dir/summary.json" ]]; then echo "skip n=$size seed=$seed (done)"; continue; fi
        resume=()
        [[ -f "$dir/checkpoints/last.ckpt" ]] && resume=("trainer.resume=$dir/checkpoints/last.ckpt")
        # Validation once per epoch, at least every 100 steps and at most every 10: small sets are not overtrained
        # before the first check, large ones are not validated more often than they can change.
        val_every=$(( (size + BATCH - 1) / BATCH )); val_every=$(( val_every < 10 ? 10 : val_every > 100 ? 100 : val_every ))
        date -u +"start n=$size seed=$seed (validation every $val_every steps) %FT%TZ"
        "$PY" -m whisper_exp "${RECIPE[@]}" "data.train_samples=$size" "seed=$seed" "trainer.val_check_interval=$val_every" \
            "${EXTRA[@]}" "${resume[@]}" \
            "hydra.run.dir=$dir" > "$dir.log" 2>&1 || { echo "FAILED n=$size seed=$seed: see $dir.log"; exit 1; }
    done
done
# Two processes (SEEDS=1 and SEEDS=2) may train side by side; the fits need both: FIT_ONLY=1 when they are done.
[[ -z "$FIT_ONLY" && "$SEEDS" != "1 2" ]] && { date -u +"trained %FT%TZ (fits: FIT_ONLY=1)"; exit 0; }

# Keep the run summaries (small) with the study, so the fits can be redone without training.
rm -rf "$HERE/summaries"
for summary in "$OUT"/*/summary.json; do
    job=$(basename "$(dirname "$summary")")
    mkdir -p "$HERE/summaries/$job"
    "$PY" -c "import json,sys; s=json.load(open(sys.argv[1])); s.pop('examples', None); print(json.dumps(s, indent=1))" \
        "$summary" > "$HERE/summaries/$job/summary.json"
done
quarter=$((largest / 4))
FIT=(--size-unit samples --fit data,data_offset --wandb-log off)
for space in log linear; do   # every law form the literature uses: on log WER and on WER, without and with offset
    "$PY" -m whisper_exp.scaling "$HERE/summaries" "${FIT[@]}" --space "$space" --holdout-above "$quarter" \
        --out "$HERE/check_$space" || true
    "$PY" -m whisper_exp.scaling "$HERE/summaries" "${FIT[@]}" --space "$space" --predict-samples 3520,17600 \
        --out "$HERE/all_$space" || true
done
date -u +"done %FT%TZ"
