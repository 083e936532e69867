#!/usr/bin/env bash
# One GPU window in one command (the `run` tool; carry [".device/data"]):
#
#   bash model/device/window.sh [--minutes M] [--smoke]
#
# 1. starts two detached trainings (setsid): fdikp-s-psnr (network fdikp-s)
#    resumes from model/checkpoints/fdikp-s-psnr (the state CPU chunks
#    resume from, so GPU and CPU steps add up on one curve), fdikp resumes
#    from model/checkpoints/fdikp or starts (per-image gain loss);
# 2. while they train, builds the engine against this machine's PyTorch
#    (-Dengine_only=true), runs the engine suite (its CUDA tests run where
#    CUDA is) and times a 1680 x 1120 image: the engine in fp32, the network
#    in half precision through PyTorch (the engine has no half path);
# 3. when the trainings stop (M - 1.5 minutes after the start, M = 9 by
#    default, under the 10-minute command limit) copies each run's state,
#    log and output, the engine results and a summary into $OUT.
#
# --smoke: the same path on the CPU with a few small steps, for testing
# the command here (no engine build; $OUT defaults to .device/smoke-out).
# Back here: python3 model/device/device.py collect OUT_DIR (see
# model/README.md).
set -uo pipefail
minutes=9
smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    *) echo "window.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$smoke" = 1 ]; then
  OUT=${OUT:-.device/smoke-out}
  device=cpu
else
  device=cuda
fi
: "${OUT:?OUT is not set}"
mkdir -p "$OUT"
start=$(date +%s)
# Trainings stop and save 1.5 minutes before the end: collection and the
# final validation fit in that.
train_minutes=$(python3 -c "print(max(0.5, $minutes - 1.5))")
# Where the data and the run directories are (tests point them elsewhere).
data=$(realpath -m "${DEVICE_DATA:-.device/data}")
runs=$(realpath -m "${DEVICE_RUNS:-.device/run}")
mkdir -p "$runs"

say() { echo "[window $(( $(date +%s) - start ))s] $*" | tee -a "$OUT/window.log"; }

gpu_options() {
  # What each configuration trains with on the GPU; the CPU options of a
  # resumed run are kept except these (fdikp.train CHUNK_OPTIONS).
  # The pairs are made on the GPU, inline (--prefetch 0): in the first
  # window (2026-11-30) that was 60-75% of every step (data_wait_s_per_step
  # 0.25-0.28 of 0.39-0.42 s for fdikp-s-psnr, 0.74 of 0.95 s for fdikp at
  # --reuse 1), so each generated pair now serves about 4 steps. Both keep
  # the input's tone through the Gaussian the shipped model uses
  # (--tone-sigma 32; docs/training/training-details.md, "Keeping the input's tone").
  # fdikp-s-psnr keeps the rate of the first window, 1e-4, on batches four
  # times the CPU's (the CPU chunks went down to 5e-5 at step 5660).
  case "$1" in
    fdikp-s|fdikp-s-psnr) echo "--batch 16 --crop 256 --reuse 4 --prefetch 0 --log-every 50 --val-every 1000 --tone-sigma 32 --lr 1e-4" ;;
    fdikp) echo "--tone-sigma 32 --reuse 4 --loss psnr --steps 140000 --phase2-steps 20000 --batch 8 --crop 256 --crop2 384 --batch2 4 --ema-decay 0 --compact-state weights --real-count 12 --real-crop 384 --val-count 32 --val-crop 256 --log-every 50 --val-every 1000" ;;
  esac
}

smoke_options() {
  echo "--batch 2 --crop 64 --reuse 1 --prefetch 0 --log-every 1 --val-every 1000 --threads 1"
}

start_training() {
  local config=$1 network=$2 run=$runs/$1 committed=model/checkpoints/$1
  mkdir -p "$run"
  if [ -f "$committed/last.pt" ] && [ ! -f "$run/last.pt" ]; then
    cp "$committed/last.pt" "$committed/log.jsonl" "$run/"
    say "$config: resuming the committed state ($committed)"
  elif [ ! -f "$run/last.pt" ]; then
    say "$config: no committed state, starting"
  fi
  local options
  if [ "$smoke" = 1 ]; then
    options="$(smoke_options) --max-minutes $train_minutes"
    [ -f "$run/last.pt" ] || options="$options --steps 1000 --phase2-steps 0 --stages 2 --real-count 2 --real-crop 64 --val-count 2 --val-crop 64"
    # As on the GPU: fdikp keeps fp16 weights only (no EMA, no moments).
    if [ "$config" = fdikp ]; then
      options="$options --ema-decay 0 --compact-state weights"
    elif [ ! -f "$run/last.pt" ]; then
      options="$options --ema-decay 0.9 --compact-state yes"
    fi
  else
    options="$(gpu_options "$config") --max-minutes $train_minutes"
  fi
  # shellcheck disable=SC2086  # $options: the trainer's options, one word each
  (cd model && setsid nohup python3 -m fdikp.train --run "$run" \
     --network "$network" --data "$data" --device "$device" \
     --ckpt-minutes 2 $options >"$run/train.out" 2>&1 </dev/null &)
  say "$config: started ($options)"
}

if [ ! -d "$data/train-photos" ]; then
  echo "window.sh: $data is missing: run 'python3 model/device/device.py pack-data' here and carry .device/data" >&2
  exit 2
fi
say "device=$device minutes=$minutes training=${train_minutes}min"
if [ "$device" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv >"$OUT/gpu.txt" 2>&1
fi
# run:network, as device.py's RUNS
runs_list="fdikp-s-psnr:fdikp-s fdikp:fdikp"
for entry in $runs_list; do
  start_training "${entry%%:*}" "${entry##*:}"
done

# 2. The engine on this machine's PyTorch, while the trainings run.
engine_log=$OUT/engine.txt
if [ "$smoke" = 1 ]; then
  say "smoke: engine build and timing skipped"
else
  (
    torch_dir=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')
    meson setup .device/build -Dengine_only=true -Dtorch_dir="$torch_dir" --buildtype=release \
      && ninja -C .device/build \
      && meson test -C .device/build --suite engine --print-errorlogs \
      && python3 model/device/device.py gpu-timing --engine .device/build/engine/tools/fdikp-engine-run \
           --weights model/checkpoints/fdikp-s-psnr/last.pt --out "$OUT"
  ) >"$engine_log" 2>&1
  say "engine build/tests/timing exit $? (see engine.txt)"
fi

# 3. Wait for both trainings to save and stop, then collect.
deadline=$(( start + $(python3 -c "print(int($minutes * 60))") - 20 ))
while [ "$(date +%s)" -lt "$deadline" ] && pgrep -f "fdikp.train --run $runs/" >/dev/null; do
  sleep 10
done
if pgrep -f "fdikp.train --run $runs/" >/dev/null; then
  say "trainings still running at the deadline: collecting their last checkpoints"
fi
for entry in $runs_list; do
  config=${entry%%:*}
  run=$runs/$config
  mkdir -p "$OUT/$config"
  cp "$run/train.out" "$OUT/$config/" 2>/dev/null
  if [ -f "$run/last.pt" ]; then
    cp "$run/last.pt" "$run/log.jsonl" "$OUT/$config/"
  fi
  python3 model/device/device.py throughput "$run" | tee -a "$OUT/window.log"
done
say "done; files in $OUT"
