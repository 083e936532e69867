#!/usr/bin/env python3
"""What a preview of part of a large photo costs: the op asked for a region
(as GIMP's on-canvas preview and a `gegl` graph that crops after it ask)
against the same op on a whole photo of the region's size.

    python3 tests/bench/preview.py [--model FILE.pt | --random-init CONFIG]
        [--photo-mp 24] [--region 1024] [--repeat 2] [--json out.json]

Builds a photo of --photo-mp megapixels (3:2, a real-noref photo scaled up
when ../shared/data is there, else a generated pattern) and a whole photo
of --region x --region pixels cut from its middle, then times, each in a
fresh `gegl` process (photo load and model load included):
  - region: the large photo -> the op -> gegl:crop to the middle
    --region x --region pixels;
  - whole:  the small photo -> the op.
With a region-aware op the two cost about the same; an op that computed
the whole photo for any region would take about photo-mp / region-mp times
longer. The op's own speed does not depend on the weights, so
--random-init gives the figures before a model ships. Needs the build
(`./debian13 build`): GEGL_PATH from build/gegl-path.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OP = "fdikp:defocus-deblur"


def photo(width, height, data):
    """A photo-like RGB image of width x height."""
    folder = os.path.join(data, "real-noref")
    if os.path.isdir(folder):
        name = sorted(n for n in os.listdir(folder) if n.lower().endswith(".jpg"))[0]
        with Image.open(os.path.join(folder, name)) as im:
            return im.convert("RGB").resize((width, height), Image.BICUBIC)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([np.sin(x / 37.0) * np.cos(y / 23.0), np.sin((x + y) / 51.0),
                    np.cos(x / 13.0 - y / 29.0)], axis=-1)
    return Image.fromarray(((rgb * 0.5 + 0.5) * 255).astype(np.uint8))


def timed(argv, env):
    start = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if done.returncode != 0 or "fdikp" in done.stderr:
        raise SystemExit("gegl failed:\n" + done.stderr)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="an exported model file")
    source.add_argument("--random-init", metavar="CONFIG",
                        help="export an untrained CONFIG network (timing only)")
    parser.add_argument("--photo-mp", type=float, default=24.0)
    parser.add_argument("--region", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data", default=os.environ.get(
        "FDIKP_DATA", os.path.join(REPO, "..", "shared", "data")))
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    with open(os.path.join(REPO, "build", "gegl-path")) as f:
        env = dict(os.environ, GEGL_PATH=f.read().strip())
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if args.random_init:
            model = os.path.join(tmp, "model.pt")
            subprocess.run([sys.executable, "-m", "fdikp.export", "--random-init", "--config",
                            args.random_init, "--out", model],
                           cwd=os.path.join(REPO, "model"), check=True, capture_output=True)
        height = int(round((args.photo_mp * 1e6 / 1.5) ** 0.5))
        width = int(round(height * 1.5))
        large = photo(width, height, args.data)
        big, small = os.path.join(tmp, "large.png"), os.path.join(tmp, "small.png")
        large.save(big)
        x, y, side = (width - args.region) // 2, (height - args.region) // 2, args.region
        large.crop((x, y, x + side, y + side)).save(small)
        out = os.path.join(tmp, "out.png")
        op = [OP, f"model={model}", "device=cpu"]
        runs = {"region": [], "whole": []}
        for _ in range(args.repeat):
            runs["region"].append(timed(["gegl", big, "-o", out, "--", *op, "gegl:crop",
                                         f"x={x}", f"y={y}", f"width={side}",
                                         f"height={side}"], env))
            runs["whole"].append(timed(["gegl", small, "-o", out, "--", *op], env))
    result = {"photo": [width, height], "region": [side, side], "model": args.model or
              "random-init " + args.random_init, "seconds": runs,
              "ratio_region_to_whole": min(runs["region"]) / min(runs["whole"])}
    print(f"{width} x {height} photo ({width * height / 1e6:.1f} MP), "
          f"{side} x {side} region from its middle:")
    print(f"  region of the large photo: {' '.join(f'{s:.1f}' for s in runs['region'])} s")
    print(f"  whole {side} x {side} photo:     {' '.join(f'{s:.1f}' for s in runs['whole'])} s")
    print(f"  region / whole (best of each): {result['ratio_region_to_whole']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
