"""Contact sheets: synthetic pairs beside real DPDD pairs, for a person to
judge whether the generator's defocus looks like the real thing.

    python3 -m fdikp.contact_sheet --out sheet.png [--rows 6] [--crop 256]

Each row: synthetic blurry | synthetic sharp | real blurry | real sharp
(dpdd1024-dev, a random crop at the same place in both).
"""

import argparse
import os
import sys
from typing import List

import torch
from torch import Tensor

from .image_io import grid, list_pairs, load_image
from .synth import DefocusSynth, data_dir


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
