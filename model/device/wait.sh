#!/usr/bin/env bash
# On the GPU machine: follow training for MINUTES (default 9, under the
# 10-minute command limit), then copy the latest weights and a resume
# snapshot into $OUT (every file <= 15 MiB).
#
#   bash model/device/wait.sh [MINUTES]
set -euo pipefail
minutes=${1:-9}
run=.device/run
end=$(( $(date +%s) + ${minutes%.*} * 60 ))
while [ "$(date +%s)" -lt "$end" ] && pgrep -f "fdikp.train --run ../$run" >/dev/null; do
  sleep 30
  tail -n 1 "$run/log.jsonl" 2>/dev/null | cut -c1-200 || true
done
tail -n 5 "$run/train.out" || true
if [ -f "$run/last.pt" ]; then
  python3 model/device/device.py save-state "$run" "${OUT:?OUT is not set}"
  cp "$run/train.out" "$OUT/" 2>/dev/null || true
fi
