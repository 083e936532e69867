#!/usr/bin/env bash
# One CPU training chunk of a committed run, in the background:
#
#   bash model/train-chunk.sh MINUTES [RUN [TRAINER OPTIONS...]]
#
# (RUN: fdikp-s-psnr by default). Options after RUN go to fdikp.train after
# the recipe and win over it: a resumed run takes the chunk options named
# in train.CHUNK_OPTIONS (for example --lr 1e-4 to lower its rate).
#
# Resumes model/checkpoints/RUN (or starts it with the recipe below when
# it has no state yet), trains for MINUTES on this machine's cores and saves
# there: last.pt (compact: fp16 weights and EMA, bf16 Adam moments) and the
# cumulative log.jsonl. Output goes to model/runs/RUN-chunk.out. Commit
# model/checkpoints/RUN when it has stopped (see model/README.md).
# Run it on the platform: ./debian13 run bash model/train-chunk.sh 140
set -euo pipefail
minutes=${1:?usage: train-chunk.sh MINUTES [CONFIG]}
[[ $minutes =~ ^[0-9]+$ ]] || { echo "train-chunk.sh: MINUTES must be a whole number" >&2; exit 2; }
config=${2:-fdikp-s-psnr}
shift $(( $# < 2 ? $# : 2 ))
extra=("$@")
cd "$(dirname "$0")"
run=checkpoints/$config
mkdir -p "$run" runs
if pgrep -f "fdikp.train --run $run" >/dev/null; then
  echo "train-chunk.sh: $run is already training" >&2
  exit 1
fi
# The recipe (used when the run starts; a resumed run keeps its own, except
# the chunk options, train.CHUNK_OPTIONS, which are given again each time).
recipe=(--steps 1000000 --phase2-steps 0 --milestones ""
        --batch 8 --crop 128 --lr 2e-4 --warmup 200 --amp bf16 --ema-decay 0.995
        --val-count 32 --val-crop 256 --real-count 12 --real-crop 384)
case $config in
  # The first run: the pooled loss (MSE + 0.2 FFT-L1 over the batch).
  fdikp-s) recipe+=(--network fdikp-s --loss mse) ;;
  # Per-image dB gain over the input, from fdikp-s's weights at step 2023
  # on new batches (seed 1; the pooled loss had taught it to sharpen heavy blur at the cost of
  # nearly sharp images: docs/training/history.md, "Where the fdikp-s curve stands").
  # (fdikp-s's state is no longer in the tree, to leave room in what travels
  # to the GPU machine; to start this run afresh, first
  # git show dd0fe68:model/checkpoints/fdikp-s/last.pt > checkpoints/fdikp-s/last.pt)
  # Its rate went down to 1e-4 at step 1631 (chunk 2); the recipe's --lr is
  # a chunk option, given at every resume, so it is kept here. From step
  # 4721 on: crops of 256 as on the GPU (4 x 256^2, the pixels of 8 x 128^2)
  # and the input's tone kept (--tone-sigma 32; docs/training/training-details.md, "Keeping
  # the input's tone"), also chunk options; from step 5660 on, rate 5e-5
  # (the EMA had stalled at 1e-4).
  fdikp-s-psnr) recipe+=(--network fdikp-s --loss psnr --seed 1
                         --init-from checkpoints/fdikp-s/last.pt --lr 5e-5
                         --batch 4 --crop 256 --tone-sigma 32) ;;
  # The equal-budget comparison of the two architectures (model/README.md,
  # DeepRFTv2): both from their identity start, the same loss and seed.
  cmp-fdikp-s) recipe+=(--network fdikp-s --loss psnr) ;;
  cmp-deeprftv2-s) recipe+=(--network deeprftv2-s --stages 1 --loss psnr) ;;
  *) recipe+=(--network "$config") ;;
esac
# This machine: 2 torch threads, pairs generated inline on both threads,
# each generated pair used about 4 times; OpenMP threads sleep instead of
# spinning when they wait (measured 1.31 s against 1.44 s per step here).
export OMP_WAIT_POLICY=PASSIVE
machine=(--threads 2 --prefetch 0 --reuse 4 --compact-state yes
         --val-every 400 --log-every 10 --ckpt-minutes 10)
# A crash costs at most the steps since the last checkpoint: the trainer is
# resumed from last.pt until MINUTES are up (LibTorch 2.6 once segfaulted
# in an OpenMP worker after 1,100 steps of a chunk). A trainer that fails
# within 2 minutes of starting is not crashing mid-run: that ends the chunk.
chunk() {
  local deadline=$((SECONDS + 60 * minutes)) left started status
  while :; do
    left=$(( (deadline - SECONDS) / 60 ))
    [ "$left" -ge 3 ] || break
    started=$SECONDS
    status=0
    python3 -m fdikp.train --run "$run" "${recipe[@]}" "${machine[@]}" \
      --max-minutes "$left" ${extra[@]+"${extra[@]}"} || status=$?
    [ "$status" = 0 ] && break
    if [ $((SECONDS - started)) -lt 120 ]; then
      echo "train-chunk.sh: the trainer failed at start (status $status); stopping"
      break
    fi
    echo "train-chunk.sh: the trainer died (status $status) after $(( (SECONDS - started) / 60 )) min; resuming from the last checkpoint"
  done
}
# Immune to the hang-up of the shell that started it (nohup's job).
(trap '' HUP; chunk) >"runs/$config-chunk.out" 2>&1 </dev/null &
echo "training $run for $minutes min in the background (pid $!); output: model/runs/$config-chunk.out"
