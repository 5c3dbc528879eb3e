#!/usr/bin/env bash
# A normal (non-editable) install runs: build a wheel, install it WITHOUT extras into a fresh venv (torch first,
# pinned to the CPU wheel), and run a 2-step fit and an evaluation from a temporary folder outside the checkout,
# plus a user config added with --config-dir. Prints the time each stage took.
# Usage: .ci/wheel_smoke.sh [PYTHON]   (env: TORCH_SPEC, default torch==2.13.0; KEEP=1 keeps the temp folder)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${1:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/whisper_exp_wheel.XXXXXX")"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
stage() { echo "== $1 ($(( SECONDS - START )) s so far)"; }
START=$SECONDS

stage "build the wheel"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$REPO"
WHEEL="$(ls "$WORK"/dist/whisper_exp-*.whl)"
# The wheel must carry the configs and the demo corpus (package data), not rely on the checkout.
"$PYTHON" - "$WHEEL" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for needed in ("whisper_exp/conf/config.yaml", "whisper_exp/conf/hydra/default.yaml",
               "whisper_exp/data/demo_sg/metadata.csv"):
    assert needed in names, f"{needed} missing from the wheel"
PY

stage "fresh venv: $TORCH_SPEC, then the wheel without extras"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet "$TORCH_SPEC"
"$VPY" -m pip install --quiet "$WHEEL"

stage "2-step fit from $WORK/run (outside the checkout)"
mkdir -p "$WORK/run" "$WORK/user_conf/data"
cd "$WORK/run"
# A user's own data config, found through --config-dir (README: "Your own configs").
cat > "$WORK/user_conf/data/my_demo.yaml" <<'YAML'
defaults:
  - demo_sg
  - _self_
name: my_demo
YAML
export WHISPER_EXP_CACHE="$WORK/cache" OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" WANDB_MODE=disabled
FIT=(model=tiny.en data=my_demo data.train_samples=4 data.validation_samples=2 data.test_samples=2
     data.batch_size=2 data.eval_batch_size=2 logger=csv trainer.max_steps=2 trainer.max_epochs=null
     trainer.val_check_interval=2 trainer.check_val_every_n_epoch=null trainer.baseline_eval=false
     trainer.enable_progress_bar=false export.enabled=false generation.max_new_tokens=8)
"$VPY" -m whisper_exp --config-dir "$WORK/user_conf" "${FIT[@]}" hydra.run.dir="$WORK/run/fit" | tail -3
"$VPY" - "$WORK/run/fit/summary.json" "$REPO" <<'PY'
import json, sys, whisper_exp
summary = json.load(open(sys.argv[1]))
assert summary["status"] == "completed" and summary["global_steps"] == 2, summary.get("error")
assert not whisper_exp.__file__.startswith(sys.argv[2]), f"imported from the checkout: {whisper_exp.__file__}"
print(f"fit: {summary['global_steps']} steps, test WER {summary['wer']:.3f}, data {summary['data']}, "
      f"whisper_exp from {whisper_exp.__file__}")
PY

stage "evaluation of the fitted checkpoint"
"$VPY" -m whisper_exp.evaluate --config-dir "$WORK/user_conf" data=my_demo data.validation_samples=2 \
    data.test_samples=2 data.eval_batch_size=2 logger=csv generation.max_new_tokens=8 \
    trainer.enable_progress_bar=false model.checkpoint="$(ls "$WORK"/run/fit/checkpoints/best-*.ckpt | head -1)" \
    hydra.run.dir="$WORK/run/eval" | tail -2
stage "done"
echo "wheel smoke: OK in $(( SECONDS - START )) s"
