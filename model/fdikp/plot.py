"""Plot training logs (DIR/log.jsonl from fdikp.train) into a PNG.

    python3 -m fdikp.plot --log runs/NAME/log.jsonl --out curves.png
    python3 -m fdikp.plot --log A/log.jsonl=fp32 --log B/log.jsonl=bf16 \
        --x hours --out compare.png

One log: four panels against the step (or the cumulative training hours,
--x hours): training loss; synthetic validation loss; PSNR on the
synthetic and real (dpdd1024-dev) validation sets, each with its blurry
input's PSNR as a dashed line; throughput. Several logs (FILE=LABEL):
the same panels with one colour per log, the inputs' PSNR dashed. Drawn
with PIL only (the platform has no matplotlib).
"""

import argparse
import json
import sys
from typing import Dict, List, Sequence, Tuple

from PIL import Image, ImageDraw

PANEL_W, PANEL_H, MARGIN = 520, 260, 48
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]

# (title, [(label, key, dashed)])
PANELS = [
    ("training loss", [("loss", "loss", False),
                       ("blurry input", "input_loss", True)]),
    ("training loss / the blurry input's loss",
     [("ratio", "loss_ratio", False)]),
    ("synthetic validation loss", [("model", "val_synth_loss", False)]),
    ("validation PSNR (dB), EMA when there is one", [
        ("synthetic", "val_synth_psnr", False),
        ("synthetic input", "val_synth_input_psnr", True),
        ("real DPDD", "val_real_psnr", False),
        ("real DPDD input", "val_real_input_psnr", True)]),
    ("throughput (images/s)", [("train", "images_per_s", False)]),
    # What the model does to crops that are sharp already (identity: 100).
    ("sharp crops through the model, PSNR (dB)", [
        ("EMA", "val_sharp_psnr", False),
        ("current", "current_val_sharp_psnr", False)]),
    # Runs with an EMA score the current weights too (fdikp.train.validate).
    ("validation PSNR (dB), current weights", [
        ("synthetic", "current_val_synth_psnr", False),
        ("synthetic input", "val_synth_input_psnr", True),
        ("real DPDD", "current_val_real_psnr", False),
        ("real DPDD input", "val_real_input_psnr", True)]),
]


def read_log(path: str) -> List[Dict]:
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    for r in records:
        # Below 1 where the model helps on its training batches.
        if r.get("loss") is not None and r.get("input_loss"):
            r["loss_ratio"] = r["loss"] / r["input_loss"]
    return records


def series(records: Sequence[Dict], key: str, x: str = "step"
           ) -> List[Tuple[float, float]]:
    return [(r[x], r[key]) for r in records
            if key in r and x in r and r[key] is not None
            and abs(r[key]) != float("inf")]


def _dashed(draw, points, colour):
    for i, (a, b) in enumerate(zip(points, points[1:])):
        if i % 2 == 0:
            draw.line([a, b], fill=colour, width=2)


def draw_panel(image: Image.Image, left: int, top: int, title: str,
               lines: List[Tuple[str, List[Tuple[float, float]], bool]],
               x_name: str = "step", per_log: int = 0):
    draw = ImageDraw.Draw(image)
    box = (left + MARGIN, top + 24, left + PANEL_W - 12, top + PANEL_H - 28)
    draw.rectangle(box, outline=(90, 90, 90))
    draw.text((left + MARGIN, top + 6), title, fill=(0, 0, 0))
    points = [p for _, data, _ in lines for p in data]
    if not points:
        draw.text((box[0] + 8, box[1] + 8), "no data", fill=(120, 120, 120))
        return
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1e-9
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def to_pixel(x, y):
        return (box[0] + (x - x0) / (x1 - x0) * (box[2] - box[0]),
                box[3] - (y - y0) / (y1 - y0) * (box[3] - box[1]))

    for value, anchor_y in ((y1, box[1]), (y0, box[3] - 10)):
        draw.text((left + 2, anchor_y), "%.4g" % value, fill=(60, 60, 60))
    draw.text((box[0], box[3] + 4), "%.4g" % x0, fill=(60, 60, 60))
    draw.text((box[2] - 60, box[3] + 4), "%s %.4g" % (x_name, x1),
              fill=(60, 60, 60))
    legend_x = box[0] + 8
    for i, (label, data, dashed) in enumerate(lines):
        if per_log:
            colour = COLOURS[(i // per_log) % len(COLOURS)]
        else:
            colour = COLOURS[(i // 2 if len(lines) > 2 else i)
                             % len(COLOURS)]
        pixels = [to_pixel(x, y) for x, y in data]
        if len(pixels) == 1:
            x, y = pixels[0]
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
        elif dashed:
            _dashed(draw, pixels, colour)
        else:
            draw.line(pixels, fill=colour, width=2)
        if data:
            draw.text((legend_x, box[1] + 4 + 12 * i),
                      label + (" (dashed)" if dashed else ""), fill=colour)


def plot(records: Sequence[Dict], out: str, x: str = "step") -> None:
    plot_many([("", records)], out, x)


def plot_many(logs: Sequence[Tuple[str, Sequence[Dict]]], out: str,
              x: str = "step") -> None:
    """One image; with several logs every line is drawn once per log, in
    the log's colour, labelled with its name."""
    columns = 2
    rows = (len(PANELS) + columns - 1) // columns
    image = Image.new("RGB", (columns * PANEL_W, rows * PANEL_H), "white")
    for i, (title, keys) in enumerate(PANELS):
        lines = []
        for name, records in logs:
            for label, key, dashed in keys:
                text = (name + ": " + label) if name else label
                lines.append((text, series(records, key, x), dashed))
        draw_panel(image, (i % columns) * PANEL_W, (i // columns) * PANEL_H,
                   title, lines, x, len(keys) if len(logs) > 1 else 0)
    image.save(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m fdikp.plot",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--log", required=True, action="append",
                        metavar="LOG.jsonl[=LABEL]",
                        help="a training log; repeat to compare runs")
    parser.add_argument("--x", choices=("step", "hours"), default="step",
                        help="horizontal axis: optimiser steps or "
                             "cumulative training hours")
    parser.add_argument("--out", required=True, metavar="PNG")
    args = parser.parse_args(argv)
    logs = []
    for spec in args.log:
        path, _, label = spec.partition("=")
        logs.append((label if len(args.log) > 1 else "", read_log(path)))
    plot_many(logs, args.out, args.x)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
