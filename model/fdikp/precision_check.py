"""bfloat16 against float32 for one model file, through the engine.

    python3 -m fdikp.precision_check --model ../data/fdikp-default.pt \\
        --engine ../build/engine/tools/fdikp-engine-run \\
        --pairs ../../shared/data/dpdd1024-dev --json ../docs/bench/precision.json
        [--stamp OUT.pt]

Runs every pair's blurry photo through fdikp-engine-run twice, with
--precision fp32 and --precision bf16 (the filter's automatic tiles), and
reports per pair the PSNR against the sharp photo in each, the change
(bf16 - fp32), the largest pixel difference in levels of 255, and the
engine's seconds for each. The check passes when every pair's |change| is
within the contract's bf16_tolerance_millidb.

--stamp OUT.pt writes a copy of the model whose metadata records the
largest |change| as bf16_psnr_change_db: the engine's precision "auto"
then takes bfloat16 on CPUs that have it, if the change is within the
tolerance. The network in the copy is the same (its float32 output is
checked to be identical). Stamp only where bfloat16 also measured faster:
speed is the only reason to take it.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

import numpy as np
import torch

from . import metrics
from .contract import LIMITS
from .export import METADATA_NAME
from .image_io import list_pairs, load_image

PRECISIONS = ("fp32", "bf16")


def run_engine(engine: str, model: str, source: str, result: str,
               precision: str, threads: int) -> Dict:
    """One run of the engine's tool; its seconds, and the precision and
    device it reports."""
    command = [engine, "--model", model, "--precision", precision,
               source, result]
    if threads > 0:
        command[1:1] = ["--threads", str(threads)]
    done = subprocess.run(command, check=True, capture_output=True,
                          text=True)
    report = dict(re.findall(r"(\w+)=(\S+)", done.stdout))
    return {"seconds": float(report["seconds"]),
            "precision": report.get("precision", "?")}


def check_pairs(engine: str, model: str, pairs: str, threads: int = 0,
                limit: Optional[int] = None, log=None) -> Dict:
    log = log or (lambda line: print(line, flush=True))
    rows: List[Dict] = []
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "in.npy")
        for name in list_pairs(pairs)[:limit]:
            blurry = load_image(os.path.join(pairs, "blur", name))
            sharp = load_image(os.path.join(pairs, "sharp", name))
            np.save(source, blurry.permute(1, 2, 0).contiguous().numpy())
            row = {"name": name}
            outputs = {}
            for precision in PRECISIONS:
                result = os.path.join(folder, precision + ".npy")
                ran = run_engine(engine, model, source, result, precision,
                                 threads)
                if ran["precision"] != precision:
                    raise RuntimeError(f"asked for {precision}, the engine "
                                       f"ran {ran['precision']}")
                outputs[precision] = torch.from_numpy(
                    np.load(result)).permute(2, 0, 1)
                row[precision] = {
                    "psnr": float(metrics.psnr(
                        outputs[precision][None], sharp[None])),
                    "seconds": ran["seconds"]}
            row["input_psnr"] = float(metrics.psnr(blurry[None], sharp[None]))
            row["psnr_change_db"] = row["bf16"]["psnr"] - row["fp32"]["psnr"]
            levels = (outputs["bf16"] - outputs["fp32"]).abs() * 255
            row["max_levels"] = float(levels.max())
            row["p999_levels"] = float(torch.quantile(
                levels.flatten()[::7], 0.999))
            rows.append(row)
            log("%-20s fp32 %6.3f dB %5.1f s   bf16 %6.3f dB %5.1f s   "
                "change %+.4f dB  max %.2f levels" % (
                    name, row["fp32"]["psnr"], row["fp32"]["seconds"],
                    row["bf16"]["psnr"], row["bf16"]["seconds"],
                    row["psnr_change_db"], row["max_levels"]))
    tolerance_db = LIMITS["FDIKP_BF16_TOLERANCE_MILLIDB"] / 1000.0
    largest = max(abs(r["psnr_change_db"]) for r in rows)
    seconds = {p: sum(r[p]["seconds"] for r in rows) for p in PRECISIONS}
    mean_gain = {p: float(np.mean([r[p]["psnr"] - r["input_psnr"]
                                   for r in rows])) for p in PRECISIONS}
    return {"model": model, "pairs": pairs, "count": len(rows),
            "threads": threads, "tolerance_db": tolerance_db,
            "largest_abs_psnr_change_db": largest,
            "mean_psnr_change_db": float(np.mean(
                [r["psnr_change_db"] for r in rows])),
            "passed": largest <= tolerance_db,
            "mean_gain_db": mean_gain,
            "seconds": seconds,
            "bf16_speedup": seconds["fp32"] / seconds["bf16"],
            "images": rows}


def stamp(model: str, out: str, change_db: float) -> None:
    """A copy of `model` with bf16_psnr_change_db in its metadata; the
    network is re-saved as loaded and checked to give the same output."""
    files = {METADATA_NAME: ""}
    module = torch.jit.load(model, _extra_files=files)
    meta = json.loads(files[METADATA_NAME])
    meta["bf16_psnr_change_db"] = round(change_db, 5)
    files[METADATA_NAME] = json.dumps(meta, indent=1)
    torch.jit.save(module, out, _extra_files=files)
    probe = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    stages = int(meta.get("default_stages", 3))
    with torch.inference_mode():
        before = torch.jit.load(model)(probe, stages)
        after = torch.jit.load(out)(probe, stages)
    if not torch.equal(before, after):
        os.remove(out)
        raise RuntimeError("the stamped copy does not give the same output")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.precision_check",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--engine", required=True, metavar="EXE",
                        help="fdikp-engine-run")
    parser.add_argument("--pairs", required=True, metavar="DIR",
                        help="a pairs folder (blur/ and sharp/)")
    parser.add_argument("--threads", type=int, default=0,
                        help="engine threads (0: its own choice)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--stamp", metavar="OUT.pt",
                        help="write a copy of the model recording the check")
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.pairs, "blur")):
        print(f"no pairs in {args.pairs} (skipped: the data is not here)",
              file=sys.stderr)
        return 77
    result = check_pairs(args.engine, args.model, args.pairs, args.threads,
                         args.limit)
    print("largest |PSNR change| %.4f dB over %d pairs (tolerance %.3f): %s; "
          "mean gain fp32 %+.3f dB, bf16 %+.3f dB; seconds fp32 %.1f, bf16 "
          "%.1f (bf16 %.2fx)" % (
              result["largest_abs_psnr_change_db"], result["count"],
              result["tolerance_db"],
              "passed" if result["passed"] else "FAILED",
              result["mean_gain_db"]["fp32"], result["mean_gain_db"]["bf16"],
              result["seconds"]["fp32"], result["seconds"]["bf16"],
              result["bf16_speedup"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if args.stamp:
        stamp(args.model, args.stamp, result["largest_abs_psnr_change_db"])
        print("wrote", args.stamp)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
