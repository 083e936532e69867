"""One picture of many before | after sheets, at 100 %:

    python3 -m fdikp.overview SHEETS_DIR --out overview.jpg [--crop 300x200]
                              [--per-row 2] [--quality 88]

SHEETS_DIR holds the PNGs of `fdikp.evaluate --noref ... --sheets DIR`
(before | after side by side under a label bar). For each sheet, in name
order, the centre crop of the photo before and after, unscaled, so that
ringing, colour shifts and tile seams show as they are; a label bar names
each photo. Small enough to keep in the repository beside the model card.
"""

import argparse
import os
import sys
from typing import List, Optional, Tuple

from PIL import Image, ImageDraw

from .image_io import GRID_GAP as GAP, LABEL_HEIGHT


def halves(sheet: Image.Image) -> Tuple[Image.Image, Image.Image]:
    """The before and after photos of one sheet (fdikp.image_io.grid with
    two columns and one row)."""
    width = (sheet.width - GAP) // 2
    height = sheet.height - LABEL_HEIGHT - GAP
    before = sheet.crop((0, LABEL_HEIGHT, width, LABEL_HEIGHT + height))
    after = sheet.crop((width + GAP, LABEL_HEIGHT, 2 * width + GAP,
                        LABEL_HEIGHT + height))
    return before, after


def centre(image: Image.Image, width: int, height: int) -> Image.Image:
    width, height = min(width, image.width), min(height, image.height)
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def overview(paths: List[str], crop: Tuple[int, int],
             per_row: int = 2) -> Image.Image:
    cell_w, cell_h = crop
    pair_w = 2 * cell_w + GAP
    rows = (len(paths) + per_row - 1) // per_row
    row_h = LABEL_HEIGHT + cell_h + GAP
    sheet = Image.new("RGB", (per_row * (pair_w + 3 * GAP) - 3 * GAP,
                              rows * row_h), (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    for i, path in enumerate(paths):
        x = (i % per_row) * (pair_w + 3 * GAP)
        y = (i // per_row) * row_h
        name = os.path.splitext(os.path.basename(path))[0]
        draw.text((x + 4, y + 3), name + ": before | after (centre, 100 %)",
                  fill=(230, 230, 230))
        with Image.open(path) as image:
            before, after = halves(image.convert("RGB"))
        for k, part in enumerate((before, after)):
            part = centre(part, cell_w, cell_h)
            sheet.paste(part, (x + k * (cell_w + GAP), y + LABEL_HEIGHT))
    return sheet


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m fdikp.overview",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("sheets", metavar="SHEETS_DIR")
    parser.add_argument("--out", required=True)
    parser.add_argument("--crop", default="300x200",
                        help="WIDTHxHEIGHT of each photo's centre crop")
    parser.add_argument("--per-row", type=int, default=2)
    parser.add_argument("--quality", type=int, default=88)
    args = parser.parse_args(argv)
    try:
        crop = tuple(int(v) for v in args.crop.lower().split("x"))
        if len(crop) != 2 or min(crop) < 16:
            raise ValueError
    except ValueError:
        parser.error("--crop takes WIDTHxHEIGHT, each at least 16")
    paths = sorted(os.path.join(args.sheets, n)
                   for n in os.listdir(args.sheets) if n.endswith(".png"))
    if not paths:
        print("no before | after sheets (*.png) in " + args.sheets,
              file=sys.stderr)
        return 1
    image = overview(paths, crop, max(1, args.per_row))
    image.save(args.out, quality=args.quality)
    print("wrote %s: %d photos, %d x %d" % (args.out, len(paths),
                                            image.width, image.height))
    return 0


if __name__ == "__main__":
    sys.exit(main())
