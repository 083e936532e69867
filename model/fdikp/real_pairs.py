"""Real (blurry, sharp) pairs as a training source beside fdikp.synth.

Only pairs of the committed fold split (fdikp.folds) can be trained on,
and only those outside the held-out fold: a model trained with fold K held
out never sees fold K's pairs, so its scores there are fair.

Batch k is a pure function of (seed, k), like the synthetic generator's:
random crops of random pairs, the same place in both images. Orientation
(the 8 flips and rotations) is drawn by the trainer, per sample, for the
whole batch, real and synthetic crops alike.
"""

import os
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .folds import FOLDS_FILE, Folds
from .image_io import list_pairs, load_image

STREAM = 7  # keeps real crops' draws apart from the synthetic generator's


def training_names(pairs_dir: str, fold: int,
                   folds_file: Optional[str] = None) -> List[str]:
    """The pairs of pairs_dir a run holding out `fold` may train on.
    Refuses a folder with pairs outside the fold split (they could not be
    held out) and a fold the split does not have."""
    split = Folds(folds_file or FOLDS_FILE)
    present = list_pairs(pairs_dir)
    unknown = sorted(set(present) - set(split.names()))
    if unknown:
        raise ValueError(
            "%s holds pairs that are in no fold of %s (%s%s): real pairs "
            "are trained on only through the committed fold split"
            % (pairs_dir, split.path, ", ".join(unknown[:3]),
               ", ..." if len(unknown) > 3 else ""))
    allowed = set(split.training(fold))
    return [name for name in present if name in allowed]


def held_out_names(pairs_dir: str, fold: int,
                   folds_file: Optional[str] = None) -> List[str]:
    """The pairs of pairs_dir in the held-out fold."""
    split = Folds(folds_file or FOLDS_FILE)
    mine = set(split.held_out(fold))
    return [name for name in list_pairs(pairs_dir) if name in mine]


class RealPairs:
    """The pairs `names` of pairs_dir, kept in memory as 8-bit levels."""

    def __init__(self, pairs_dir: str, names: Sequence[str], seed: int = 0):
        if not names:
            raise ValueError("no real pairs to train on in " + pairs_dir)
        self.names = list(names)
        self.seed = seed
        self.images: List[Tuple[Tensor, Tensor]] = []
        for name in self.names:
            pair = tuple((load_image(os.path.join(pairs_dir, sub, name))
                          * 255.0).round().to(torch.uint8)
                         for sub in ("blur", "sharp"))
            if pair[0].shape != pair[1].shape:
                raise ValueError("%s: blur and sharp differ in size" % name)
            self.images.append(pair)

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, index: int, batch_size: int, crop: int
              ) -> Tuple[Tensor, Tensor]:
        """(blurry, sharp), both B x 3 x crop x crop in [0, 1]."""
        generator = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + index) * 8 + STREAM)
        blurry, sharp = [], []
        for _ in range(batch_size):
            pick = int(torch.randint(len(self.images), (1,),
                                     generator=generator))
            source, target = self.images[pick]
            height, width = source.shape[-2:]
            if min(height, width) < crop:
                raise ValueError("%s is smaller than the %d px crop"
                                 % (self.names[pick], crop))
            top = int(torch.randint(height - crop + 1, (1,),
                                    generator=generator))
            left = int(torch.randint(width - crop + 1, (1,),
                                     generator=generator))
            blurry.append(source[:, top:top + crop, left:left + crop])
            sharp.append(target[:, top:top + crop, left:left + crop])
        return (torch.stack(blurry).float() / 255.0,
                torch.stack(sharp).float() / 255.0)


def real_count(batch_size: int, share: float) -> int:
    """How many of a batch's samples are real at this share."""
    return min(batch_size, max(0, int(round(batch_size * share))))
