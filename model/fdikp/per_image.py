"""Where a checkpoint helps and where it hurts, image by image, on the
fixed synthetic validation crops (fdikp.synth.validation_set):

    python3 -m fdikp.per_image --weights CKPT.pt [--weights-from current]
                               [--count 48] [--crop 128] [--json OUT]
                               [--max-radius 16] [--radius-skew 0.8]
                               [--p-sharp 0.03] [--seed 12345] [--stages S]

For each crop, sorted by the blurry input's PSNR: the input's PSNR, the
model's, the gain, and the model's PSNR on the SHARP crop itself (what it
does to a photo that is in focus already). Then the mean PSNR gain, the
gain of the pooled MSE (the quantity a batch-mean loss follows), and the
means over the blurrier and the sharper half, and by the crop's largest
blur radius (bins of 6 px). A mean PSNR below the input's with a pooled
MSE above it is the signature of a model that sharpens heavy blur at the
cost of nearly sharp images. The generator's blur range, the held-out
crops' seed and the stage count can differ from training's, to see how
the model copes outside what it was trained on. Float32 on the CPU, the
network in eval mode (as exported).
"""

import argparse
import json
import math
import sys
from typing import Dict, List, Optional

import torch
from torch import Tensor

from . import metrics
from .registry import WEIGHTS_FROM, default_stages_of, load_network, with_tone_sigma
from .synth import VALIDATION_SEED, SynthConfig, validation_pairs

RADIUS_BIN = 6.0  # px: the width of the by-radius summary's bins


@torch.no_grad()
def restore(net: torch.nn.Module, images: Tensor, stages: int,
            batch: int = 8) -> Tensor:
    return torch.cat([net(images[i:i + batch], stages).clamp(0, 1)
                      for i in range(0, images.shape[0], batch)])


def by_radius(rows: List[Dict]) -> List[Dict]:
    """Mean gain of the rows in bins of RADIUS_BIN px of blur_radius."""
    bins: Dict[int, List[float]] = {}
    for row in rows:
        bins.setdefault(int(row["blur_radius"] // RADIUS_BIN),
                        []).append(row["gain"])
    return [{"from_px": k * RADIUS_BIN, "to_px": (k + 1) * RADIUS_BIN,
             "count": len(bins[k]),
             "mean_gain_db": sum(bins[k]) / len(bins[k]),
             "improved": sum(g > 0 for g in bins[k])} for k in sorted(bins)]


def report(blurry: Tensor, sharp: Tensor, restored: Tensor,
           resharpened: Tensor, radii: Optional[Tensor] = None) -> Dict:
    """Per-image rows (sorted by input PSNR) and the summary figures;
    with each crop's largest blur radius (radii, px) also the gain by
    radius."""
    before = metrics.psnr(blurry, sharp)
    after = metrics.psnr(restored, sharp)
    on_sharp = metrics.psnr(resharpened, sharp).clamp(max=100)
    order = before.argsort().tolist()
    rows = [{"input_psnr": float(before[i]), "psnr": float(after[i]),
             "gain": float(after[i] - before[i]),
             "sharp_in_psnr": float(on_sharp[i])} for i in order]
    if radii is not None:
        for row, i in zip(rows, order):
            row["blur_radius"] = float(radii[i])
    half = len(rows) // 2
    gains = [r["gain"] for r in rows]
    pooled_before = float(((blurry - sharp) ** 2).mean())
    pooled_after = float(((restored - sharp) ** 2).mean())
    result = {
        "rows": rows,
        "mean_gain_db": sum(gains) / len(gains),
        "pooled_mse_gain_db": 10 * math.log10(pooled_before / pooled_after),
        "blurrier_half_gain_db": sum(gains[:half]) / max(1, half),
        "sharper_half_gain_db": sum(gains[half:]) / max(1, len(gains) - half),
        "improved": sum(g > 0 for g in gains), "count": len(gains),
        "sharp_in_mean_psnr": float(on_sharp.mean()),
    }
    if radii is not None:
        result["by_radius"] = by_radius(rows)
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m fdikp.per_image",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True,
                        help="a training state (last.pt) or weights file")
    parser.add_argument("--weights-from", choices=WEIGHTS_FROM,
                        default="ema")
    parser.add_argument("--data", default=None,
                        help="the data folder (default: $FDIKP_DATA)")
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--crop", type=int, default=128)
    defaults = SynthConfig()
    parser.add_argument("--max-radius", type=float,
                        default=defaults.max_radius,
                        help="the generator's largest blur radius, px")
    parser.add_argument("--radius-skew", type=float,
                        default=defaults.radius_skew,
                        help="a crop's largest radius is max-radius * u^skew"
                             " (u uniform): below 1 favours large blur")
    parser.add_argument("--p-sharp", type=float, default=defaults.p_sharp,
                        help="share of crops with no blur at all")
    parser.add_argument("--seed", type=int, default=VALIDATION_SEED,
                        help="the held-out crops' seed (default: the fixed "
                             "validation set training logs)")
    parser.add_argument("--stages", type=int, default=None,
                        help="stage count (default: the network's own)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--tone-sigma", type=float, default=None,
                        help="FDIKP: keep the input's tone with this sigma "
                             "in pixels, as fdikp.export --tone-sigma "
                             "(default: the weights' configuration)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    net = load_network(args.weights, args.weights_from)
    if args.tone_sigma is not None:
        try:
            net = with_tone_sigma(net, args.tone_sigma)
        except ValueError as error:
            parser.error(str(error))
    if args.stages is None:
        args.stages = default_stages_of(net)
    blurry, sharp, radii = validation_pairs(
        args.data, args.count, args.crop, args.seed,
        SynthConfig(max_radius=args.max_radius, radius_skew=args.radius_skew,
                    p_sharp=args.p_sharp))
    result = report(blurry, sharp, restore(net, blurry, args.stages),
                    restore(net, sharp, args.stages), radii)
    print("input dB  model dB    gain   model on the sharp crop   blur px")
    for r in result["rows"]:
        print("%8.2f  %8.2f  %+6.2f   %6.2f                  %6.1f" % (
            r["input_psnr"], r["psnr"], r["gain"], r["sharp_in_psnr"],
            r["blur_radius"]))
    for b in result["by_radius"]:
        print("largest blur radius %4.0f-%-4.0f px: %2d crops, mean gain "
              "%+.3f dB, %d improve" % (b["from_px"], b["to_px"], b["count"],
                                        b["mean_gain_db"], b["improved"]))
    print("mean PSNR gain %+.3f dB (blurrier half %+.3f, sharper half %+.3f;"
          " %d of %d improve); pooled MSE gain %+.3f dB; sharp crops through"
          " the model: %.2f dB" % (
              result["mean_gain_db"], result["blurrier_half_gain_db"],
              result["sharper_half_gain_db"], result["improved"],
              result["count"], result["pooled_mse_gain_db"],
              result["sharp_in_mean_psnr"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(result, weights=args.weights,
                           weights_from=args.weights_from,
                           count=args.count, crop=args.crop,
                           stages=args.stages, seed=args.seed,
                           max_radius=args.max_radius,
                           radius_skew=args.radius_skew,
                           p_sharp=args.p_sharp), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
