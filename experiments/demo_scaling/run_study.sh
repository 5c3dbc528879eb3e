#!/usr/bin/env bash
# The demo scaling study: tiny.en fine-tuned on nested subsets of demo_sg (5 sizes × 2 seeds), one zero-shot
# evaluation, then the scaling fits. Run from the repository root: bash experiments/demo_scaling/run_study.sh
# Steps-per-sample policy: 3 epochs at batch 8 for every size (steps = 3·⌈N/8⌉), validation once at the end.
set -euo pipefail
PY=${PY:-.venv/bin/python}
SWEEP=${SWEEP:-multirun/demo_scaling}
HERE=${HERE:-experiments/demo_scaling}

COMMON=(task_name=demo_scaling model=tiny.en data=demo_sg logger=csv trainer.precision=bf16-mixed
        trainer.baseline_eval=false trainer.max_steps=-1 trainer.max_epochs=3 trainer.check_val_every_n_epoch=3
        trainer.val_check_interval=1.0 trainer.save_last=false trainer.enable_progress_bar=false
        export.enabled=false data.batch_size=8 data.eval_batch_size=16)

date -u +"start %FT%TZ"
"$PY" -m whisper_exp -m "${COMMON[@]}" data.train_samples=25,50,100,200,400 seed=1,2 hydra.sweep.dir="$SWEEP"
date -u +"sweep done %FT%TZ"
# Zero-shot is the same for every run: measured once (validation and test), same precision.
"$PY" -m whisper_exp.evaluate task_name=demo_scaling_zero_shot model=tiny.en data=demo_sg logger=none \
    trainer.precision=bf16-mixed trainer.enable_progress_bar=false data.eval_batch_size=16 \
    hydra.run.dir="$SWEEP/zero_shot"
date -u +"zero-shot done %FT%TZ"

# Keep the run summaries (small) with the study, so the fits can be redone without training.
rm -rf "$HERE/summaries"
for summary in "$SWEEP"/*/summary.json; do
    job=$(basename "$(dirname "$summary")")
    mkdir -p "$HERE/summaries/$job"
    cp "$summary" "$HERE/summaries/$job/summary.json"
done

# All five sizes, extrapolated to 10 / 100 / 1000 hours; then a check of extrapolation: fit on ≤ 200 clips
# (≤ 0.3 h) and predict the held-out 400-clip runs.
"$PY" -m whisper_exp.scaling "$HERE/summaries" --predict-hours 10,100,1000 --out "$HERE/fit_all" --wandb-log off
"$PY" -m whisper_exp.scaling "$HERE/summaries" --holdout-above 0.3 --predict-hours 10 --out "$HERE/fit_holdout" \
    --wandb-log off
date -u +"done %FT%TZ"
