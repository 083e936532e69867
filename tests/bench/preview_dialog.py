#!/usr/bin/env python3
"""What the plug-in's dialog preview costs, in one process as the dialog
runs it: the photo already in memory (a GeglBuffer), a graph built for each
preview (buffer -> the op), the view computed in bands of --band rows, top
to bottom, each shown as soon as it is done (plugin/fdikp-deblur/preview.c).

    ./debian13 run python3 tests/bench/preview_dialog.py [--model FILE.pt]
        [--photo-mp 24] [--region 1024] [--band 128] [--pairs 3] [--json out.json]

In one process, on a --photo-mp photo (3:2, a real-noref photo scaled up
when ../shared/data is there, else a generated pattern; see preview.py),
--region x --region views that share no tile and each fall in the same
number of tiles (a grid of them over the photo, each starting 20 px into a
tile's core on the engine's grid for the model's tile and overlap; each a
fresh graph, as the dialog builds one a preview):
  1. the first preview (the model's load and graph rewrite included), in
     bands: seconds to the first band shown, and to the whole view;
  2. --pairs pairs of new views, one in bands and one in one piece (as the
     dialog computed it before bands), alternating: what every later
     preview of new pixels costs (a setting that changes the network, or
     the view moved to another part of the photo), and what the bands add;
  3. the last view in bands again: the engine keeps the tiles that reach
     past a region (its tile memo), so a view scrolled back, or a setting
     that does not change the network's input, costs little.
Needs the build (`./debian13 build`): GEGL_PATH from build/gegl-path.
"""

import argparse
import json
import os
import sys
import time

import subprocess

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from preview import photo  # noqa: E402
from profile import axis_tiles  # noqa: E402

FORMAT = "R'G'B' u8"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.path.join(REPO, "data", "fdikp-default.pt"))
    parser.add_argument("--photo-mp", type=float, default=24.0)
    parser.add_argument("--region", type=int, default=1024)
    parser.add_argument("--band", type=int, default=128)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--data", default=os.environ.get(
        "FDIKP_DATA", os.path.join(REPO, "..", "shared", "data")))
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    with open(os.path.join(REPO, "build", "gegl-path")) as f:
        os.environ["GEGL_PATH"] = f.read().strip()
    import gi
    gi.require_version("Gegl", "0.4")
    from gi.repository import Gegl
    Gegl.init(None)

    height = int(round((args.photo_mp * 1e6 / 1.5) ** 0.5))
    width = int(round(height * 1.5))
    pixels = np.asarray(photo(width, height, args.data), dtype=np.uint8)
    source = Gegl.Buffer.new(FORMAT, 0, 0, width, height)
    source.set(Gegl.Rectangle.new(0, 0, width, height), FORMAT, pixels.tobytes())
    side = args.region
    # The engine's tile grid for this photo (its automatic tile on a photo
    # this large is the model's recommended one).
    inspect = subprocess.run([os.path.join(REPO, "build", "engine", "tools", "fdikp-engine-run"),
                              "--model", args.model, "--inspect"],
                             capture_output=True, text=True, check=True).stdout
    tile = int(inspect.split("recommended_tile_size=")[1].split()[0])
    overlap = int(inspect.split("recommended_tile_overlap=")[1].split()[0])

    def starts(length):
        """Starts of views along an axis: 20 px into a core, the next
        view's first core more than one core past this one's last."""
        inner, _ = axis_tiles(length, tile, overlap, 1)
        edges = [0] + inner
        out, k = [], 0
        while k < len(edges) and edges[k] + 20 + side <= length:
            out.append(edges[k] + 20)
            k = next((j for j, e in enumerate(edges) if e > edges[k] + 20 + side), len(edges)) + 1
        return out

    views = [(x, y) for y in starts(height) for x in starts(width)]
    if len(views) < 2 * args.pairs + 1:
        raise SystemExit("preview_dialog: room for %d views, %d pairs need %d"
                         % (len(views), args.pairs, 2 * args.pairs + 1))

    def preview(x0, y0, band):
        """(seconds to the first band, to the whole view, view's pixels)."""
        graph = Gegl.Node()
        src = graph.create_child("gegl:buffer-source")
        src.set_property("buffer", source)
        op = graph.create_child("fdikp:defocus-deblur")
        op.set_property("model", args.model)
        src.connect_to("output", op, "input")
        out = Gegl.Buffer.new(FORMAT, x0, y0, side, side)
        start = time.monotonic()
        first = None
        for y in range(y0, y0 + side, band):
            rect = Gegl.Rectangle.new(x0, y, side, min(band, y0 + side - y))
            op.blit_buffer(out, rect, 0, Gegl.AbyssPolicy.NONE)
            first = first or time.monotonic() - start
        total = time.monotonic() - start
        shown = np.frombuffer(out.get(Gegl.Rectangle.new(x0, y0, side, side), 1.0, FORMAT,
                                      Gegl.AbyssPolicy.NONE), dtype=np.uint8)
        return first, total, shown.reshape(side, side, 3)

    plan = [("first preview, bands", views[0], args.band)]
    for k in range(args.pairs):
        pair = [("new view, bands", views[1 + 2 * k], args.band),
                ("new view, one piece", views[2 + 2 * k], side)]
        plan += pair if k % 2 == 0 else pair[::-1]
    # The last view computed in bands: each of its tiles reached past a band,
    # so the memo kept them all (a view in one piece keeps only the tiles
    # on its border).
    plan.append(("a view seen before", [v for label, v, band in plan
                                        if label == "new view, bands"][-1], args.band))
    rows = []
    for label, (x0, y0), band in plan:
        first, total, shown = preview(x0, y0, band)
        changed = float(np.abs(shown.astype(int)
                               - pixels[y0:y0 + side, x0:x0 + side].astype(int)).mean())
        if changed == 0.0:
            raise SystemExit("preview_dialog: the op left the view at %d,%d unchanged" % (x0, y0))
        rows.append({"run": label, "view": [x0, y0, side, side], "band_rows": band,
                     "first_band_s": first, "whole_s": total,
                     "mean_change_levels": changed})
        print("%-26s view at %5d,%5d: first band %6.2f s, whole view %6.2f s"
              % (label, x0, y0, first, total), flush=True)
    result = {"photo": [width, height], "region": [side, side], "model": args.model,
              "band_rows": args.band, "runs": rows}
    for label in ("new view, bands", "new view, one piece"):
        times = sorted(r["whole_s"] for r in rows if r["run"] == label)
        firsts = sorted(r["first_band_s"] for r in rows if r["run"] == label)
        result[label] = {"whole_median_s": times[len(times) // 2],
                         "first_band_median_s": firsts[len(firsts) // 2]}
        print("%-26s median: first band %6.2f s, whole view %6.2f s"
              % (label, firsts[len(firsts) // 2], times[len(times) // 2]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
