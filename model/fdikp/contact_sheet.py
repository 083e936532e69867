"""Contact sheets: synthetic pairs beside real DPDD pairs, for a person to
judge whether the generator's defocus looks like the real thing.

    python3 -m fdikp.contact_sheet --out sheet.png [--rows 6] [--crop 256]

Each row: synthetic blurry | synthetic sharp | real blurry | real sharp
(dpdd1024-dev, a random crop at the same place in both).
"""

import argparse
import os
import sys
from typing import List, Sequence

import torch
from PIL import Image, ImageDraw
from torch import Tensor

from .synth import DefocusSynth, data_dir
from .evaluate import load_image, list_pairs

LABEL_HEIGHT = 18


def to_pil(image: Tensor) -> Image.Image:
    array = (image.clamp(0, 1) * 255.0).round().byte().permute(1, 2, 0)
    return Image.fromarray(array.cpu().numpy())


def grid(rows: Sequence[Sequence[Tensor]], labels: Sequence[str],
         gap: int = 4) -> Image.Image:
    """Tile equally sized 3 x h x w images, one label per column."""
    height, width = rows[0][0].shape[-2:]
    columns = len(rows[0])
    sheet = Image.new("RGB", (columns * (width + gap) - gap,
                              LABEL_HEIGHT + len(rows) * (height + gap)),
                      (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(labels):
        draw.text((c * (width + gap) + 4, 3), label, fill=(230, 230, 230))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            sheet.paste(to_pil(image), (c * (width + gap),
                                        LABEL_HEIGHT + r * (height + gap)))
    return sheet


def real_crops(pairs_dir: str, count: int, crop: int,
               generator: torch.Generator) -> List[List[Tensor]]:
    pairs = list_pairs(pairs_dir)
    rows = []
    for _ in range(count):
        stem = pairs[int(torch.randint(len(pairs), (1,), generator=generator))]
        blurry = load_image(os.path.join(pairs_dir, "blur", stem))
        sharp = load_image(os.path.join(pairs_dir, "sharp", stem))
        height, width = blurry.shape[-2:]
        top = int(torch.randint(height - crop + 1, (1,), generator=generator))
        left = int(torch.randint(width - crop + 1, (1,), generator=generator))
        rows.append([x[:, top:top + crop, left:left + crop]
                     for x in (blurry, sharp)])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m fdikp.contact_sheet",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, metavar="PNG")
    parser.add_argument("--data", default=None,
                        help="data directory (default: $FDIKP_DATA)")
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = args.data or data_dir()
    synth = DefocusSynth(data, seed=args.seed)
    blurry, sharp = synth.batch(0, args.rows, args.crop)
    generator = torch.Generator().manual_seed(args.seed)
    real = real_crops(os.path.join(data, "dpdd1024-dev"), args.rows,
                      args.crop, generator)
    rows = [[blurry[i], sharp[i]] + real[i] for i in range(args.rows)]
    grid(rows, ["synthetic blurry", "synthetic sharp", "real blurry (DPDD)",
                "real sharp (DPDD)"]).save(args.out)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
