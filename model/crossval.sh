#!/usr/bin/env bash
# Cross-validated training on the real dev pairs, in the background:
#
#   bash model/crossval.sh RECIPE FOLDS [TRAINER OPTIONS...]
#
# RECIPE: one of model/recipes.sh's cross-validation recipes.
# FOLDS: fold indices of model/fdikp/folds.json, comma-separated (e.g. 0,2,4), or
# "all" for the run that trains on every fold (the file a recipe ships as).
# For each fold K, one after the other: train RECIPE with fold K held out
# in model/checkpoints/cv-RECIPE/foldK (resumed if it has a state; crashes
# resume from the last checkpoint), export its EMA, score fold K's pairs at
# full size through the engine (foldK/eval-heldout.json) and print the
# recipe's table so far (fdikp.crossval). "all" trains
# checkpoints/cv-RECIPE/all and exports runs/cv-RECIPE-all.pt, unscored:
# no pair is held out from it. Options after FOLDS go to fdikp.train after
# the recipe (e.g. --threads 1 to run two lanes side by side).
# Output: model/runs/cv-RECIPE-FOLDS.out. Needs the engine built
# (./debian13 build); run it on the platform:
#   ./debian13 run bash model/crossval.sh ft-mix50 0,1
set -euo pipefail
recipe_name=${1:?usage: crossval.sh RECIPE FOLDS [TRAINER OPTIONS...]}
folds=${2:?usage: crossval.sh RECIPE FOLDS [TRAINER OPTIONS...]}
shift 2
extra=("$@")
cd "$(dirname "$0")"
engine=${FDIKP_ENGINE_RUN:-../build/engine/tools/fdikp-engine-run}
[ -x "$engine" ] || { echo "crossval.sh: no engine tool at $engine (./debian13 build first)" >&2; exit 1; }
runs=checkpoints/cv-$recipe_name
mkdir -p "$runs" runs
# The fourth shipped file's training state (fdikp-s-psnr at step 6011,
# never trained on a dev pair): the start of every fine-tuning recipe (the
# fifth file is ft-c384's "all" run from it).
shipped=runs/fdikp-s-psnr-step6011.pt
[ -s "$shipped" ] || git show 7329b4f:model/checkpoints/fdikp-s-psnr/last.pt > "$shipped"
# The recipes: model/recipes.sh.
# shellcheck source-path=SCRIPTDIR source=recipes.sh
source ./recipes.sh
cv_recipe "$recipe_name" "$shipped" || {
  echo "crossval.sh: unknown recipe $recipe_name (known: $cv_recipes)" >&2; exit 2; }
# A recipe trained with --stages N runs with N stages unless told.
export_stages=()
for ((i = 0; i + 1 < ${#recipe[@]}; i++)); do
  [ "${recipe[i]}" = --stages ] && export_stages=(--stages-default "${recipe[i + 1]}")
done
export OMP_WAIT_POLICY=PASSIVE
machine=(--prefetch 0 --reuse 4 --val-every 125 --log-every 10 --ckpt-minutes 10)

train_fold() {  # $1: fold index or "all"
  local fold=$1 dir status tries=0
  if [ "$fold" = all ]; then dir=$runs/all; else dir=$runs/fold$fold; fi
  local option=(--fold "$([ "$fold" = all ] && echo -1 || echo "$fold")")
  while :; do
    status=0
    python3 -m fdikp.train --run "$dir" "${recipe[@]}" \
      "${machine[@]}" "${option[@]}" ${extra[@]+"${extra[@]}"} || status=$?
    [ "$status" = 0 ] && break
    tries=$((tries + 1))
    [ "$tries" -lt 3 ] || { echo "crossval.sh: fold $fold failed $tries times"; return 1; }
    echo "crossval.sh: the trainer died (status $status); resuming fold $fold"
  done
  local model=runs/cv-$recipe_name-$fold.pt
  python3 -m fdikp.export --weights "$dir/last.pt" --weights-from ema \
    --tone-sigma 32 "${export_stages[@]}" --out "$model" >/dev/null
  [ "$fold" = all ] && return 0
  python3 -m fdikp.evaluate --model "$model" --engine "$engine" \
    --pairs "${FDIKP_DATA:-../../shared/data}/dpdd1024-dev" --fold "$fold" \
    --json "$dir/eval-heldout.json"
  python3 -m fdikp.crossval --runs "$runs" \
    --reference ../docs/training/eval-38-fdikp-s-psnr-step6011-ema.json \
    --json "$runs/crossval.json"
}

lane() {
  local fold
  for fold in ${folds//,/ }; do
    echo "== fold $fold: $(date)"
    train_fold "$fold"
  done
  echo "== done: $(date)"
}
(trap '' HUP; lane) >"runs/cv-$recipe_name-${folds//,/-}.out" 2>&1 </dev/null &
echo "cross-validating $recipe_name on folds $folds in the background (pid $!); output: model/runs/cv-$recipe_name-${folds//,/-}.out"
