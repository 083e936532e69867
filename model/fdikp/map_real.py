"""The defocus map on real photos: against the blur measured in the dev
pairs, and as a contact sheet over photos without a reference.

    python3 -m fdikp.map_real --model FILE.pt [--pairs DIR] [--bank FILE]
        [--noref DIR --sheet OUT.jpg] [--json OUT]

FILE.pt is an exported model with a defocus map (fdikp.export
--defocus-head; metadata defocus_map = 1). Its map runs untiled, in
Python, on each whole photo.

**Against measured blur.** The kernel bank (fdikp.kernels --estimate)
holds, for every dev pair, blur kernels fitted in a 6 x 6 grid of
overlapping 176-px patches, each with its equivalent-disc radius (the
generator's circle-of-confusion radius, the map's unit) and a flag saying
whether the fit is trustworthy. For every usable patch this takes the
map's median over the same patch of the blurry photo and scores it
against the measured radius: Spearman's rank correlation over all patches
and within each photo (a mask needs the ranking within one photo), the
mean absolute error in pixels, and the bias (map minus measured). The map
head trains on synthetic crops only, so every dev pair is unseen by it.

**Contact sheet.** Each photo of --noref beside its map (black = sharp,
white = --sheet-max px of radius or more), to judge by eye where the map
puts the blur.
"""

import argparse
import json
import os
import sys
from typing import Dict, List, Optional

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import defocus_map
from .image_io import IMAGE_EXTENSIONS, load_image
from .kernels import PATCH, bank_file

DEFAULT_PAIRS = os.path.join("..", "..", "shared", "data", "dpdd1024-dev")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """defocus_map.spearman, undefined (NaN) where a ranking says nothing:
    fewer than 3 values, or all of one side equal."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return defocus_map.spearman(a, b)


class MapModel:
    def __init__(self, path: str):
        self.module = torch.jit.load(path, map_location="cpu").eval()
        if not hasattr(self.module, "defocus_map"):
            raise ValueError(f"{path} has no defocus map (export it with "
                             "--defocus-head)")

    def __call__(self, image: torch.Tensor) -> np.ndarray:
        """H x W radii in pixels for a 3 x H x W image."""
        with torch.inference_mode():
            return self.module.defocus_map(image[None])[0, 0].numpy()


def against_bank(model: MapModel, pairs: str, bank_path: str,
                 log=print) -> Dict:
    bank = np.load(bank_path)
    names = [str(n) for n in bank["names"]]
    usable = bank["usable"]
    rows: List[Dict] = []
    per_photo = []
    for index, name in enumerate(names):
        path = os.path.join(pairs, "blur", name)
        if not os.path.exists(path):
            continue
        image = load_image(path)
        height, width = image.shape[1:]
        radii = model(image)
        chosen = np.nonzero((bank["pair"] == index) & usable)[0]
        measured, mapped = [], []
        for patch in chosen:
            cx = (bank["centre"][patch][0] + 1) / 2 * width
            cy = (bank["centre"][patch][1] + 1) / 2 * height
            top = int(round(cy - PATCH / 2))
            left = int(round(cx - PATCH / 2))
            window = radii[max(top, 0):top + PATCH, max(left, 0):left + PATCH]
            measured.append(float(bank["radius"][patch]))
            mapped.append(float(np.median(window)))
        for m, p in zip(measured, mapped):
            rows.append({"pair": name, "measured_px": m, "map_px": p})
        rho = spearman(np.array(mapped), np.array(measured))
        per_photo.append(rho)
        log("%-14s %2d usable patches  measured %.2f px  map %.2f px  "
            "Spearman %.3f" % (name, len(measured),
                               np.mean(measured) if measured else float("nan"),
                               np.mean(mapped) if mapped else float("nan"),
                               rho))
    measured = np.array([r["measured_px"] for r in rows])
    mapped = np.array([r["map_px"] for r in rows])
    # A map of the mean measured radius everywhere: the baseline the
    # error is read against.
    constant = np.abs(measured - measured.mean()).mean()
    finite = [r for r in per_photo if np.isfinite(r)]
    return {"pairs": pairs, "bank": bank_path, "patches": len(rows),
            "photos": len(per_photo),
            "photos_ranked": len([r for r in per_photo if np.isfinite(r)]),
            "spearman_all": spearman(mapped, measured),
            "spearman_per_photo_mean": float(np.mean(finite)),
            "photos_positive": int(sum(r > 0 for r in finite)),
            "mae_px": float(np.abs(mapped - measured).mean()),
            "mae_px_constant_map": float(constant),
            "bias_px": float((mapped - measured).mean()),
            "measured_mean_px": float(measured.mean()),
            "map_mean_px": float(mapped.mean()),
            "patches_detail": rows}


def colour(radii: np.ndarray, top: float) -> np.ndarray:
    """Radii as grey levels: 0 px black, `top` px or more white."""
    return (np.clip(radii / top, 0, 1) * 255).astype(np.uint8)


def contact_sheet(model: MapModel, folder: str, out: str, top: float,
                  width: int = 320, limit: Optional[int] = None) -> int:
    names = sorted(n for n in os.listdir(folder)
                   if n.lower().endswith(IMAGE_EXTENSIONS))[:limit]
    tiles = []
    for name in names:
        image = load_image(os.path.join(folder, name))
        radii = model(image)
        photo = Image.fromarray((image.permute(1, 2, 0).numpy() * 255 + 0.5)
                                .clip(0, 255).astype(np.uint8))
        grey = Image.fromarray(colour(radii, top)).convert("RGB")
        scale = width / photo.width
        size = (width, max(1, round(photo.height * scale)))
        pair = Image.new("RGB", (2 * width + 8, size[1] + 18), "white")
        pair.paste(photo.resize(size, Image.LANCZOS), (0, 18))
        pair.paste(grey.resize(size, Image.BILINEAR), (width + 8, 18))
        ImageDraw.Draw(pair).text(
            (2, 3), "%s   map median %.1f px, 95th pct %.1f px" % (
                name, np.median(radii), np.percentile(radii, 95)),
            fill="black")
        tiles.append(pair)
    columns = min(2, len(tiles))
    cell_w = 2 * width + 8
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    heights = [max(t.height for t in row) for row in rows]
    sheet = Image.new("RGB", (columns * cell_w + (columns - 1) * 16,
                              sum(heights) + 10 * len(rows)), "white")
    y = 0
    for row, height in zip(rows, heights):
        for i, tile in enumerate(row):
            sheet.paste(tile, (i * (cell_w + 16), y))
        y += height + 10
    sheet.save(out, quality=88)
    return len(tiles)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.map_real",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        help="an exported model file with a defocus map")
    parser.add_argument("--pairs", default=DEFAULT_PAIRS)
    parser.add_argument("--bank", default=None,
                        help="kernel bank (default: the package's)")
    parser.add_argument("--noref", metavar="DIR")
    parser.add_argument("--sheet", metavar="OUT.jpg")
    parser.add_argument("--sheet-max", type=float, default=8.0,
                        help="radius shown white, in px")
    parser.add_argument("--sheet-width", type=int, default=320,
                        help="width of each photo on the sheet, px")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model = MapModel(args.model)
    result: Dict = {"model": args.model}
    if os.path.isdir(os.path.join(args.pairs, "blur")):
        scores = against_bank(model, args.pairs,
                              args.bank or bank_file())
        print("over %d usable patches of %d photos: Spearman %.3f (within "
              "a photo: mean %.3f, %d of the %d with 3 or more usable "
              "patches positive), MAE %.2f px against %.2f for a constant "
              "map, bias %+.2f px (map %.2f, measured %.2f)" % (
                         scores["patches"], scores["photos"],
                         scores["spearman_all"],
                         scores["spearman_per_photo_mean"],
                         scores["photos_positive"], scores["photos_ranked"],
                         scores["mae_px"], scores["mae_px_constant_map"],
                         scores["bias_px"], scores["map_mean_px"],
                         scores["measured_mean_px"]))
        result["measured_blur"] = scores
    else:
        print(f"no pairs in {args.pairs}: the measured-blur check is "
              "skipped", file=sys.stderr)
    if args.noref:
        if not args.sheet:
            parser.error("--noref needs --sheet OUT.jpg")
        if not os.path.isdir(args.noref):
            print(f"no photos in {args.noref}: no contact sheet",
                  file=sys.stderr)
        else:
            count = contact_sheet(model, args.noref, args.sheet,
                                  args.sheet_max, width=args.sheet_width,
                                  limit=args.limit)
            print(f"wrote {args.sheet} ({count} photos)")
            result["sheet"] = args.sheet
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
