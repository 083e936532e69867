"""How much of what a model does to real photos is a change of tone: its
mean shift, and its scores once its output keeps the input's tone.

    python3 -m fdikp.tone_check --model FILE.pt --pairs DIR [--engine EXE]
                                [--sigmas 4,8,16,32,64] [--limit N]
                                [--json OUT]

For each pair: the model's mean change per channel, in levels of 255 (and
the blurry input's mean minus the reference's), and
the PSNR and SSIM of the blurry input, of the model's output ("raw"), of
that output with each channel's mean moved back to the input's ("mean"),
and of network.keep_tone applied to the whole output at each sigma
("sigma N": an exact Gaussian, edges reflected). The means over all pairs
close the report. A model that keeps the tone itself (tone_sigma in its
configuration) shows it as "raw" already.
"""

import argparse
import json
import os
import sys
from typing import Dict, List, Sequence

from torch import Tensor

from .evaluate import load_model_or_report, mean_scores, score
from .image_io import list_pairs, load_image
from .network import gaussian_kernel, separable_blur


def exact_gaussian(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of N x C x H x W, 3 sigma of taps, edges
    reflected (repeated where a side is too short to reflect)."""
    radius = max(1, int(3.0 * sigma + 0.5))
    width_mode, height_mode = ("reflect" if radius < side else "replicate"
                               for side in (x.shape[3], x.shape[2]))
    return separable_blur(x, gaussian_kernel(sigma, radius, x),
                          width_mode, height_mode)


def tone_variants(blurry: Tensor, restored: Tensor,
                  sigmas: Sequence[float]) -> Dict[str, Tensor]:
    """The restored image (1 x 3 x H x W) as it is and with the input's
    tone put back: per channel mean, and below each Gaussian sigma."""
    difference = blurry - restored
    variants = {"raw": restored,
                "mean": restored + difference.mean((2, 3), keepdim=True)}
    for sigma in sigmas:
        variants["sigma %g" % sigma] = (
            restored + exact_gaussian(difference, sigma)).clamp(0.0, 1.0)
    return variants


LEVELS = ("shift_levels", "input_offset_levels")
# --model oracle: perfect deblurring (the reference itself) with the input's
# tone kept: the most a tone-keeping model can score on the pairs.
ORACLE = "oracle"


def _mean_levels(rows: List[Dict], key: str) -> List[float]:
    return [sum(r[key][c] for r in rows) / len(rows) for c in range(3)]


def check_pairs(model, pairs_dir: str, sigmas: Sequence[float],
                limit=None, log=None) -> Dict:
    rows: List[Dict] = []
    for name in list_pairs(pairs_dir)[:limit]:
        blurry = load_image(os.path.join(pairs_dir, "blur", name))[None]
        sharp = load_image(os.path.join(pairs_dir, "sharp", name))
        oracle = model == ORACLE
        restored = sharp[None] if oracle else model(blurry)
        shift = ((restored - blurry).mean((0, 2, 3)) * 255.0).tolist()
        offset = ((blurry[0] - sharp).mean((1, 2)) * 255.0).tolist()
        row = {"name": name, "shift_levels": shift,
               "input_offset_levels": offset,
               "input": score(blurry[0], sharp)}
        for key, image in tone_variants(blurry, restored, sigmas).items():
            if oracle and key == "raw":
                continue  # the reference itself: infinite PSNR
            row[key] = score(image.clamp(0.0, 1.0)[0], sharp)
        if oracle:
            # The input with the reference's tone: what the tone alone
            # costs the input.
            for sigma in sigmas:
                fixed = blurry - exact_gaussian(blurry - sharp[None], sigma)
                row["input, reference tone, sigma %g" % sigma] = score(
                    fixed.clamp(0.0, 1.0)[0], sharp)
        rows.append(row)
        if log:
            log("%-24s shift %s  input %.3f  %s" % (
                name, " ".join("%+.2f" % s for s in shift),
                row["input"]["psnr"],
                "  ".join("%s %.3f" % (k, row[k]["psnr"])
                          for k in row if k not in LEVELS + ("name", "input"))))
    keys = [k for k in rows[0] if k not in LEVELS + ("name",)]
    return {"pairs": pairs_dir, "count": len(rows),
            "mean": {k: mean_scores([r[k] for r in rows]) for k in keys},
            "mean_shift_levels": _mean_levels(rows, "shift_levels"),
            "mean_input_offset_levels": _mean_levels(rows,
                                                     "input_offset_levels"),
            "images": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.tone_check",
        description="A model's change of tone on pairs, and its scores "
                    "with the input's tone kept.")
    parser.add_argument("--model", required=True,
                        help="TorchScript model file, 'identity', or 'oracle' "
                             "(the reference itself: the scores a model that "
                             "removed the blur perfectly would get with the "
                             "input's tone kept, and the input's with the "
                             "reference's tone)")
    parser.add_argument("--pairs", required=True, metavar="DIR",
                        help="folder with blur/ and sharp/")
    parser.add_argument("--engine", metavar="EXE",
                        help="run the model through fdikp-engine-run, as "
                             "the filter runs it")
    parser.add_argument("--stages", type=int, default=None,
                        help="stage count (default: the model file's own)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sigmas", default="4,8,16,32,64",
                        help="Gaussian sigmas in pixels, comma-separated")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    try:
        sigmas = [float(s) for s in args.sigmas.split(",") if s.strip()]
    except ValueError:
        parser.error("--sigmas: numbers separated by commas")
    if any(s <= 0 for s in sigmas):
        parser.error("--sigmas must be above 0")
    if not os.path.isdir(args.pairs):
        print("tone_check: no pairs at %s (the data are not here)"
              % args.pairs, file=sys.stderr)
        return 2
    model = ORACLE if args.model == ORACLE else load_model_or_report(args)
    if model is None:
        return 1
    result = check_pairs(model, args.pairs, sigmas, args.limit,
                         log=lambda line: print(line, flush=True))
    print("mean shift, levels of 255 (R G B): %s" % " ".join(
        "%+.2f" % s for s in result["mean_shift_levels"]))
    print("the blurry input's mean minus the reference's, levels of 255: %s"
          % " ".join("%+.2f" % s for s in result["mean_input_offset_levels"]))
    for key, value in result["mean"].items():
        print("mean over %d  %-9s PSNR %.3f dB  SSIM %.4f" % (
            result["count"], key, value["psnr"], value["ssim"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
