"""The committed fold split of dpdd1024-dev, by scene (fdikp/folds.json).

    python3 -m fdikp.folds --show
    python3 -m fdikp.folds --make [--pairs DIR] [--out FILE]

The 38 real dev pairs may be trained on only through this split: a model
trained with fold K held out is scored on fold K alone, and only such
scores are published as quality (issue: model v2).

Scenes: DPDD's file names are camera frame numbers (1P0A0917 ...). Frames
closer than SCENE_GAP numbers apart were taken at one place in one walk
and count as one scene (checked by looking at a contact sheet of all 38:
1434/1444 one brick building, 1589/1600/1614 one path, 1973/1983/1992 one
corridor, ...), so a scene never straddles two folds. The folds are
balanced in size (8, 8, 8, 7, 7) and in the blurry input's mean PSNR
(how blurred they are), by a seeded search that --make repeats exactly.
"""

import argparse
import json
import os
import random
import re
import sys
from typing import Dict, List, Optional, Sequence

# Package data: beside this module, in the repository and installed alike.
FOLDS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "folds.json")
FOLD_COUNT = 5
SCENE_GAP = 20   # frames fewer than this apart: one scene
SEARCH_SEED = 2026
SEARCH_TRIES = 20000


def frame_number(name: str) -> int:
    digits = re.findall(r"\d+", os.path.splitext(name)[0])
    if not digits:
        raise ValueError("no frame number in " + name)
    return int(digits[-1])


def scenes(names: Sequence[str], gap: int = SCENE_GAP) -> List[List[str]]:
    """Names grouped into scenes: runs of frame numbers less than `gap`
    apart, in frame order."""
    ordered = sorted(names, key=frame_number)
    groups: List[List[str]] = []
    for name in ordered:
        if groups and frame_number(name) - frame_number(groups[-1][-1]) < gap:
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


def make_folds(names: Sequence[str], blur: Dict[str, float],
               count: int = FOLD_COUNT, seed: int = SEARCH_SEED,
               tries: int = SEARCH_TRIES) -> List[List[str]]:
    """Scenes dealt into `count` folds of nearly equal size (largest scenes
    first, each to a fold with the fewest pairs, ties broken at random),
    keeping of `tries` seeded deals the one whose folds' mean `blur`
    (e.g. input PSNR) are closest to each other."""
    groups = scenes(names)
    rng = random.Random(seed)
    best, best_spread = None, float("inf")
    for _ in range(tries):
        order = groups[:]
        rng.shuffle(order)
        order.sort(key=len, reverse=True)
        folds: List[List[str]] = [[] for _ in range(count)]
        for group in order:
            smallest = min(len(f) for f in folds)
            choices = [f for f in folds if len(f) == smallest]
            rng.choice(choices).extend(group)
        sizes = [len(f) for f in folds]
        if max(sizes) - min(sizes) > 1:
            continue
        means = [sum(blur[n] for n in f) / len(f) for f in folds]
        spread = max(means) - min(means)
        if spread < best_spread:
            best, best_spread = folds, spread
    if best is None:
        raise ValueError("no deal of %d scenes into %d folds of equal size"
                         % (len(groups), count))
    best = [sorted(f, key=frame_number) for f in best]
    return sorted(best, key=lambda f: frame_number(f[0]))


class Folds:
    """The split as read from the fold file."""

    def __init__(self, path: str = FOLDS_FILE):
        with open(path) as f:
            document = json.load(f)
        self.path = path
        self.folds: List[List[str]] = document["folds"]
        self.scenes: List[List[str]] = document["scenes"]

    def __len__(self) -> int:
        return len(self.folds)

    def names(self) -> List[str]:
        return sorted(n for fold in self.folds for n in fold)

    def fold_of(self, name: str) -> int:
        for index, fold in enumerate(self.folds):
            if name in fold:
                return index
        raise KeyError("%s is in no fold of %s" % (name, self.path))

    def check_fold(self, fold: int) -> None:
        if not 0 <= fold < len(self.folds):
            raise ValueError("fold %d: %s has folds 0..%d"
                             % (fold, self.path, len(self.folds) - 1))

    def held_out(self, fold: int) -> List[str]:
        """The pairs a model trained with `fold` held out is scored on."""
        self.check_fold(fold)
        return list(self.folds[fold])

    def training(self, fold: Optional[int]) -> List[str]:
        """The pairs such a model may train on: every other fold's (all
        pairs when fold is None or negative: the shipped model)."""
        if fold is None or fold < 0:
            return self.names()
        self.check_fold(fold)
        return sorted(n for k, f in enumerate(self.folds) if k != fold
                      for n in f)


def _input_psnr(pairs_dir: str, names: Sequence[str]) -> Dict[str, float]:
    from . import metrics
    from .image_io import load_image
    result = {}
    for name in names:
        blurry = load_image(os.path.join(pairs_dir, "blur", name))[None]
        sharp = load_image(os.path.join(pairs_dir, "sharp", name))[None]
        result[name] = float(metrics.psnr(blurry, sharp)[0])
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.folds",
        description="Show or (re)make the fold split of dpdd1024-dev.")
    parser.add_argument("--make", action="store_true",
                        help="deal the scenes into folds and write --out")
    parser.add_argument("--pairs", metavar="DIR", help="default: "
                        "$FDIKP_DATA/dpdd1024-dev")
    parser.add_argument("--out", default=FOLDS_FILE)
    args = parser.parse_args(argv)
    if args.make:
        from .image_io import list_pairs
        from .synth import dev_pairs_dir
        pairs = dev_pairs_dir(args.pairs)
        if pairs is None:
            return 1
        names = list_pairs(pairs)
        blur = _input_psnr(pairs, names)
        folds = make_folds(names, blur)
        document = {
            "set": "dpdd1024-dev",
            "rule": "scenes: frame numbers less than %d apart; folds "
                    "balanced in size and in the input's mean PSNR "
                    "(fdikp.folds --make, seed %d)" % (SCENE_GAP,
                                                       SEARCH_SEED),
            "folds": folds,
            "scenes": [s for s in scenes(names) if len(s) > 1],
            "input_psnr": [round(sum(blur[n] for n in f) / len(f), 3)
                           for f in folds]}
        with open(args.out, "w") as f:
            json.dump(document, f, indent=1)
            f.write("\n")
        print("wrote " + args.out)
    split = Folds(args.out)
    with open(args.out) as f:
        psnr = json.load(f).get("input_psnr", [None] * len(split))
    for k, fold in enumerate(split.folds):
        print("fold %d (%d pairs, input %s dB): %s" % (
            k, len(fold), psnr[k], " ".join(os.path.splitext(n)[0]
                                            for n in fold)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
