"""How well does FDIKP's own dilation map tell where a photo is out of
focus, and by how much? (The defocus-map issue: measure first.)

PAC (fdikp.fikp) applies each predicted kernel dilated per pixel by
D(p) = 1 + (d_max - 1) sigmoid(conv(z)), a map the network learned only
as a means to deblur. On synthetic validation crops, whose true
circle-of-confusion radius is known at every pixel (synth.coc_map), this
scores D at the finest stage against that radius:

- Spearman's rank correlation over all pixels, and per crop (a mask needs
  the ranking within one photo);
- the mean absolute error in pixels of radius after the best monotone
  mapping from D to radius (isotonic regression, fitted on half the crops
  and scored on the other half), against a map that says the mean radius
  everywhere.

    python3 -m fdikp.defocus_map --weights STATE.pt [--count 32] [--crop 256]
        [--json OUT]
"""

import argparse
import json
import sys
from typing import Dict, List, Tuple

import numpy as np
import torch
from torch import Tensor

from .fikp import PAC
from .network import FDIKP, MAX_STAGES, TRAINED_STAGES, network_config
from .synth import VALIDATION_SEED, DefocusSynth, SynthConfig


def load_fdikp(path: str, weights: str = "ema") -> FDIKP:
    """An FDIKP training state's network (its EMA by default), on the CPU,
    in evaluation mode."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = FDIKP(network_config(state["network"]))
    net.load_state_dict({k: v.float() for k, v in state[weights].items()})
    return net.eval()


def dilation_maps(net: FDIKP, image: Tensor, stages: int) -> List[Tensor]:
    """The dilation maps D of every PAC call at the image's own size (the
    finest stage: FIKP of the blurry input, then of the previous stage's
    upsampled output), each N x 1 x H x W in [1, d_max]."""
    captured: List[Tensor] = []
    hooks = []
    for module in net.modules():
        if isinstance(module, PAC):
            def keep(pac, _inputs, output, pac_module=module):
                captured.append(1.0 + (pac_module.max_dilation - 1.0)
                                * torch.sigmoid(output))
            hooks.append(module.dilation.register_forward_hook(keep))
    try:
        with torch.no_grad():
            net(image, stages=stages)
    finally:
        for hook in hooks:
            hook.remove()
    size = image.shape[-2:]
    return [d for d in captured if d.shape[-2:] == size]


def rank(values: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(len(values), dtype=np.float64)
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends):
        if end - start > 1:
            ranks[order[start:end]] = (start + end - 1) / 2.0
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = rank(a), rank(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denominator) if denominator > 0 else 0.0


def isotonic_fit(x: np.ndarray, y: np.ndarray, bins: int = 256
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """The non-decreasing step function of x closest to y in the least
    squares sense (pool adjacent violators), on x's quantile bins: returns
    (bin edges, value per bin)."""
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    count = np.bincount(which, minlength=len(edges) - 1).astype(np.float64)
    total = np.bincount(which, weights=y, minlength=len(edges) - 1)
    blocks: List[List[float]] = []  # [sum, count, first bin]
    for i in range(len(count)):
        if count[i] == 0:
            continue
        blocks.append([total[i], count[i], i])
        while len(blocks) > 1 and (blocks[-2][0] / blocks[-2][1]
                                   > blocks[-1][0] / blocks[-1][1]):
            s, c, _ = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    values = np.zeros(len(edges) - 1)
    starts = [int(b[2]) for b in blocks] + [len(values)]
    for block, start, end in zip(blocks, starts[:-1], starts[1:]):
        values[start:end] = block[0] / block[1]
    return edges, values


def apply_fit(edges: np.ndarray, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(values) - 1)
    return values[which]


def score_maps(maps: np.ndarray, coc: np.ndarray) -> Dict[str, float]:
    """maps, coc: crops x pixels. Spearman over all pixels and per crop;
    MAE (px) of the isotonic mapping fitted on the even crops and scored
    on the odd ones, next to the constant map's."""
    fit_rows, test_rows = maps[0::2], maps[1::2]
    edges, values = isotonic_fit(fit_rows.ravel(), coc[0::2].ravel())
    predicted = apply_fit(edges, values, test_rows.ravel())
    truth = coc[1::2].ravel()
    per_crop = [spearman(m, c) for m, c in zip(maps, coc) if np.ptp(c) > 0]
    return {"spearman_all": spearman(maps.ravel(), coc.ravel()),
            "spearman_per_crop_mean": float(np.mean(per_crop)) if per_crop else 0.0,
            "mae_px": float(np.abs(predicted - truth).mean()),
            "mae_px_constant_map": float(np.abs(coc[0::2].mean() - truth).mean()),
            "coc_mean_px": float(coc.mean())}


def measure(net: FDIKP, count: int, crop: int, stages: int, seed: int,
            stride: int = 4, data=None) -> Dict:
    synth = DefocusSynth(data, SynthConfig(), split="val", seed=seed)
    per_call: List[List[np.ndarray]] = []
    truth: List[np.ndarray] = []
    for index in range(count):
        blurry, _sharp, _radius, coc = synth.batch_with_coc(index, 1, crop)
        maps = dilation_maps(net, blurry, stages)
        if not per_call:
            per_call = [[] for _ in maps]
        for store, d in zip(per_call, maps):
            store.append(d[0, 0, ::stride, ::stride].numpy().ravel())
        truth.append(coc[0, 0, ::stride, ::stride].numpy().ravel())
    coc_all = np.stack(truth)
    result = {"count": count, "crop": crop, "stages": stages, "seed": seed,
              "pixel_stride": stride}
    names = ["pac_of_input", "pac_of_previous"]
    for name, store in zip(names, per_call):
        result[name] = score_maps(np.stack(store), coc_all)
    if len(per_call) >= 2:
        both = (np.stack(per_call[0]) + np.stack(per_call[1])) / 2.0
        result["pac_mean_of_both"] = score_maps(both, coc_all)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.defocus_map",
        description="Score FDIKP's PAC dilation maps as a defocus map "
                    "against the synthetic circle of confusion.")
    parser.add_argument("--weights", required=True, help="training state (.pt)")
    parser.add_argument("--which", default="ema", choices=("ema", "model"))
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--stages", type=int, default=TRAINED_STAGES,
                        choices=range(1, MAX_STAGES + 1))
    parser.add_argument("--seed", type=int, default=VALIDATION_SEED)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    if args.count < 2:
        parser.error("--count must be at least 2 (fit on half, score on half)")
    if args.threads:
        torch.set_num_threads(args.threads)
    net = load_fdikp(args.weights, args.which)
    result = measure(net, args.count, args.crop, args.stages, args.seed)
    result["weights"] = args.weights
    for key, value in result.items():
        if isinstance(value, dict):
            print("%-18s Spearman %.3f (per crop %.3f)  MAE %.2f px (constant map "
                  "%.2f px, mean radius %.2f px)"
                  % (key, value["spearman_all"], value["spearman_per_crop_mean"],
                     value["mae_px"], value["mae_px_constant_map"], value["coc_mean_px"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
