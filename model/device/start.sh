#!/usr/bin/env bash
# On the GPU machine, from the repo root: start (or resume) training,
# detached, so that it outlives this command while the machine stays warm.
#
#   bash model/device/start.sh [MINUTES] [-- extra fdikp.train flags]
#
# MINUTES (default 22) bounds the training time; the trainer saves a
# checkpoint every 3 minutes and when time is up. A snapshot brought back
# from an earlier session (.device/state, see model/README.md) is restored
# first. Output: .device/run/ (last.pt, log.jsonl, train.out).
set -euo pipefail
minutes=${1:-22}
shift || true
[ "${1:-}" = "--" ] && shift
run=.device/run
mkdir -p "$run"
if pgrep -f "fdikp.train --run ../$run" >/dev/null; then
  echo "training already running"; exit 0
fi
if [ ! -f "$run/last.pt" ] && ls .device/state/resume.pt.part* >/dev/null 2>&1; then
  python3 model/device/device.py restore-state .device/state "$run"
fi
cd model
setsid nohup python3 -m fdikp.train --run "../$run" --data ../.device/data \
  --device cuda --max-minutes "$minutes" --ckpt-minutes 3 "$@" \
  >"../$run/train.out" 2>&1 </dev/null &
echo "started training (pid $!), log: $run/train.out"
