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
# The recipe (model/recipes.sh; a resumed run keeps its own, except the
# chunk options, train.CHUNK_OPTIONS, which are given again each time).
# shellcheck source-path=SCRIPTDIR source=recipes.sh
source ./recipes.sh
chunk_recipe "$config"
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
