"""The cross-validated score of a training recipe on dpdd1024-dev.

    python3 -m fdikp.crossval --runs checkpoints/cv-RECIPE
                              [--reference EVAL.json] [--json OUT.json]

--runs holds one folder per fold, foldK/, each with the held-out scores
of the model trained with fold K held out: foldK/eval-heldout.json, as
written by `fdikp.evaluate --fold K --json` (model/crossval.sh does both).
Every pair is scored by the one model that did not train on it, so the
figures here may be published as quality (issue: model v2).

Printed and written: per fold the input's and the model's mean PSNR and
SSIM and the gain; over every scored pair the mean gain (the
cross-validated gain), the mean of the fold gains with their spread, how
many pairs gained, and the gain by blur tercile (the pairs ordered by the
blurry input's PSNR: the first third is the most blurred). --reference
(another model's evaluate JSON on the same pairs, e.g. the shipped file's
on all 38) adds that model's gain on exactly the pairs scored here, so a
recipe explored on two or three folds is compared on equal ground.
"""

import argparse
import json
import os
import statistics
import sys
from typing import Dict, List, Optional

from .folds import FOLDS_FILE, Folds

EVAL_FILE = "eval-heldout.json"


def load_folds(runs: str, split: Folds) -> Dict[int, Dict]:
    """fold index -> its held-out evaluation, for the folds present;
    refuses an evaluation of other pairs than its fold's."""
    found = {}
    for fold in range(len(split)):
        path = os.path.join(runs, "fold%d" % fold, EVAL_FILE)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            result = json.load(f)
        scored = sorted(row["name"] for row in result["images"])
        if result.get("fold") != fold or scored != sorted(
                split.held_out(fold)):
            raise ValueError("%s does not score exactly fold %d's pairs"
                             % (path, fold))
        if result.get("crop"):
            raise ValueError("%s scores crops, not full images" % path)
        found[fold] = result
    return found


def _gain(row: Dict, key: str) -> float:
    return row["model"][key] - row["input"][key]


def _mean(values: List[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def summarise(found: Dict[int, Dict], split: Folds,
              reference: Optional[Dict] = None) -> Dict:
    rows = [row for fold in sorted(found) for row in found[fold]["images"]]
    if not rows:
        raise ValueError("no held-out evaluations")
    others = ({row["name"]: row for row in reference["images"]}
              if reference else {})
    folds = []
    for fold in sorted(found):
        mine = found[fold]["images"]
        entry = {"fold": fold, "count": len(mine),
                 "input_psnr": _mean([r["input"]["psnr"] for r in mine]),
                 "input_ssim": _mean([r["input"]["ssim"] for r in mine]),
                 "model_psnr": _mean([r["model"]["psnr"] for r in mine]),
                 "model_ssim": _mean([r["model"]["ssim"] for r in mine])}
        entry["gain_psnr"] = entry["model_psnr"] - entry["input_psnr"]
        entry["gain_ssim"] = entry["model_ssim"] - entry["input_ssim"]
        if others:
            entry["reference_gain_psnr"] = _mean(
                [_gain(others[r["name"]], "psnr") for r in mine])
        folds.append(entry)
    fold_gains = [f["gain_psnr"] for f in folds]
    ordered = sorted(rows, key=lambda r: r["input"]["psnr"])
    thirds = [ordered[i * len(ordered) // 3:(i + 1) * len(ordered) // 3]
              for i in range(3)]
    terciles = []
    for label, part in zip(("most blurred", "middle", "least blurred"),
                           thirds):
        entry = {"tercile": label, "count": len(part),
                 "input_psnr": _mean([r["input"]["psnr"] for r in part]),
                 "gain_psnr": _mean([_gain(r, "psnr") for r in part]),
                 "gain_ssim": _mean([_gain(r, "ssim") for r in part])}
        if others:
            entry["reference_gain_psnr"] = _mean(
                [_gain(others[r["name"]], "psnr") for r in part])
        terciles.append(entry)
    summary = {
        "folds_scored": sorted(found), "complete": len(found) == len(split),
        "count": len(rows),
        "input_psnr": _mean([r["input"]["psnr"] for r in rows]),
        "input_ssim": _mean([r["input"]["ssim"] for r in rows]),
        "model_psnr": _mean([r["model"]["psnr"] for r in rows]),
        "model_ssim": _mean([r["model"]["ssim"] for r in rows]),
        "gain_psnr": _mean([_gain(r, "psnr") for r in rows]),
        "gain_ssim": _mean([_gain(r, "ssim") for r in rows]),
        "better_psnr": sum(_gain(r, "psnr") > 0 for r in rows),
        "better_ssim": sum(_gain(r, "ssim") > 0 for r in rows),
        "fold_gain_mean": _mean(fold_gains),
        "fold_gain_spread": (statistics.stdev(fold_gains)
                             if len(fold_gains) > 1 else 0.0),
        "fold_gain_min": min(fold_gains), "fold_gain_max": max(fold_gains),
        "folds": folds, "terciles": terciles}
    if others:
        summary["reference_gain_psnr"] = _mean(
            [_gain(others[r["name"]], "psnr") for r in rows])
        summary["reference_gain_ssim"] = _mean(
            [_gain(others[r["name"]], "ssim") for r in rows])
    return summary


def table(summary: Dict) -> str:
    """The summary as Markdown: folds, then terciles."""
    reference = "reference_gain_psnr" in summary
    lines = ["| fold | pairs | input dB / SSIM | model dB / SSIM | gain dB"
             + (" | reference gain dB |" if reference else " |"),
             "|---|---|---|---|---" + ("|---|" if reference else "|")]
    for f in summary["folds"]:
        lines.append("| %d | %d | %.3f / %.4f | %.3f / %.4f | %+.3f%s" % (
            f["fold"], f["count"], f["input_psnr"], f["input_ssim"],
            f["model_psnr"], f["model_ssim"], f["gain_psnr"],
            " | %+.3f |" % f["reference_gain_psnr"] if reference else " |"))
    lines.append("| all scored | %d | %.3f / %.4f | %.3f / %.4f | **%+.3f**"
                 "%s" % (summary["count"], summary["input_psnr"],
                         summary["input_ssim"], summary["model_psnr"],
                         summary["model_ssim"], summary["gain_psnr"],
                         " | %+.3f |" % summary["reference_gain_psnr"]
                         if reference else " |"))
    lines += ["", "fold gains: mean %+.3f dB, spread (sd) %.3f, %+.3f to "
              "%+.3f; SSIM %+.4f; %d/%d pairs gain in PSNR, %d/%d in SSIM"
              % (summary["fold_gain_mean"], summary["fold_gain_spread"],
                 summary["fold_gain_min"], summary["fold_gain_max"],
                 summary["gain_ssim"], summary["better_psnr"],
                 summary["count"], summary["better_ssim"],
                 summary["count"]), "",
              "| blur tercile | pairs | input dB | gain dB | SSIM gain"
              + (" | reference gain dB |" if reference else " |"),
              "|---|---|---|---|---" + ("|---|" if reference else "|")]
    for t in summary["terciles"]:
        lines.append("| %s | %d | %.2f | %+.3f | %+.4f%s" % (
            t["tercile"], t["count"], t["input_psnr"], t["gain_psnr"],
            t["gain_ssim"],
            " | %+.3f |" % t["reference_gain_psnr"] if reference else " |"))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.crossval",
        description="Cross-validated gain of a recipe from its folds' "
                    "held-out evaluations.")
    parser.add_argument("--runs", required=True, metavar="DIR",
                        help="folder with fold0/ ... fold4/")
    parser.add_argument("--folds", default=FOLDS_FILE, metavar="FILE")
    parser.add_argument("--reference", metavar="EVAL.json",
                        help="another model's evaluate JSON on these pairs")
    parser.add_argument("--json", metavar="FILE", help="write the summary")
    args = parser.parse_args(argv)
    split = Folds(args.folds)
    try:
        found = load_folds(args.runs, split)
        reference = None
        if args.reference:
            with open(args.reference) as f:
                reference = json.load(f)
        summary = summarise(found, split, reference)
    except (ValueError, OSError, KeyError) as error:
        print("fdikp.crossval: %s" % error, file=sys.stderr)
        return 1
    summary["runs"] = args.runs
    print(table(summary))
    if not summary["complete"]:
        print("\nonly folds %s of %d scored: an exploration figure, not the "
              "recipe's cross-validated score"
              % (summary["folds_scored"], len(split)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
