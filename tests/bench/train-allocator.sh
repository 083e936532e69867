#!/usr/bin/env bash
# Training steps under glibc's malloc against jemalloc keeping freed pages:
# STEPS steps (default 30) of the ft-c384 cross-validation recipe (fold 0
# held out, 1 thread, from the shipped file's training state), once under
# each allocator, alternating ROUNDS times (default 1), printing each run's
# wall, user and system seconds and its seconds per step.
#
#   ./debian13 run bash tests/bench/train-allocator.sh [STEPS [ROUNDS]]
#
# Scratch runs go to model/runs/alloc-*; docs/training/training-details.md
# ("The allocator") has the figures.
set -euo pipefail
steps=${1:-30}
rounds=${2:-1}
cd "$(dirname "$0")/../../model"
mkdir -p runs
shipped=runs/fdikp-s-psnr-step6011.pt
[ -s "$shipped" ] || git show 7329b4f:model/checkpoints/fdikp-s-psnr/last.pt >"$shipped"
# The recipe (model/recipes.sh), with small validations and STEPS steps.
# shellcheck source=model/recipes.sh
source ./recipes.sh
cv_recipe ft-c384 "$shipped"
run() {  # $1: glibc or jemalloc
  local dir=runs/alloc-$1
  rm -rf "$dir"
  TIMEFORMAT="$1: wall %R s, user %U s, system %S s"
  # fdikp.train starts itself again under jemalloc unless FDIKP_MALLOC=system.
  time env FDIKP_MALLOC="$([ "$1" = glibc ] && echo system || echo jemalloc)" \
    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=. python3 -m fdikp.train --run "$dir" \
    "${recipe[@]}" --val-count 2 --val-crop 64 --real-count 1 --real-crop 64 \
    --steps "$steps" --prefetch 0 --reuse 4 --val-every 100000 \
    --log-every 10 --ckpt-minutes 1000 --fold 0 --threads 1 >"$dir.log" 2>&1
  python3 -c "import json, sys
print('$1: seconds per step', [round(json.loads(l)['s_per_step'], 2)
      for l in open('$dir/log.jsonl') if 's_per_step' in l])"
}
for _ in $(seq "$rounds"); do
  run glibc
  run jemalloc
done
