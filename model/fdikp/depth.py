"""Scene depth for synthetic defocus, as normalised inverse depth.

The circle of confusion is linear in inverse depth, r = A |1/d - 1/d_f|
(point 2 of design/synthetic-defocus.md), so every depth source is turned
into q in [0, 1], 1 = nearest. Disparity is inverse depth up to an affine
map, whose unknown offset (Middlebury 2003/2006) cancels in |q - q_f|.

Two sources (point 3): the real scenes of train-depth/, and random layered
scenes: a sloped ground plane, 1-6 fronto-parallel or tilted layers cut
out by thresholded smooth noise, and a little smooth noise on top, so that
both gradual depth changes and sharp depth edges occur.
"""

import json
import os
from dataclasses import dataclass
from typing import List

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

MAX_LAYERS = 6


@dataclass
class DepthScene:
    """A real photo with its normalised inverse depth q (H x W, float32)."""

    name: str
    image: Tensor          # 3 x H x W uint8
    inverse_depth: Tensor  # H x W float32 in [0, 1], 1 = nearest


def fill_holes(values: Tensor) -> Tensor:
    """Fill NaNs (unknown depth) with the mean of their known neighbours,
    growing inwards until nothing is unknown."""
    known = torch.isfinite(values).float()[None, None]
    filled = torch.nan_to_num(values)[None, None] * known
    while known.min() == 0:
        total = F.avg_pool2d(filled, 3, 1, 1, count_include_pad=False)
        count = F.avg_pool2d(known, 3, 1, 1, count_include_pad=False)
        grown = torch.where(count > 0, total / count.clamp_min(1e-12),
                            torch.zeros_like(total))
        filled = torch.where(known > 0, filled, grown)
        known = torch.maximum(known, (count > 0).float())
    return filled[0, 0]


def load_scene(folder: str) -> DepthScene:
    with open(os.path.join(folder, "meta.json")) as f:
        meta = json.load(f)
    files = meta["files"]
    image = np.asarray(Image.open(os.path.join(folder, files["image"]))
                       .convert("RGB"))
    if "disparity_npy" in files:
        inverse = np.load(os.path.join(folder, files["disparity_npy"]))
    else:
        inverse = 1.0 / np.load(os.path.join(folder, files["depth_npy"]))
    inverse = fill_holes(torch.from_numpy(inverse.astype(np.float32)))
    low, high = inverse.min(), inverse.max()
    return DepthScene(meta["scene"],
                      torch.from_numpy(image.copy()).permute(2, 0, 1),
                      ((inverse - low) / (high - low)).contiguous())


def load_scenes(depth_dir: str) -> List[DepthScene]:
    if not os.path.isdir(depth_dir):
        return []
    return [load_scene(os.path.join(depth_dir, name))
            for name in sorted(os.listdir(depth_dir))
            if os.path.isfile(os.path.join(depth_dir, name, "meta.json"))]


def smooth_noise(batch: int, height: int, width: int, cells: int,
                 generator: torch.Generator) -> Tensor:
    """Band-limited noise in [0, 1]: a coarse random grid of cells x cells,
    bicubic-upsampled to B x 1 x H x W."""
    coarse = torch.rand(batch, 1, cells + 1, cells + 1, generator=generator)
    fine = F.interpolate(coarse, size=(height, width), mode="bicubic",
                         align_corners=True)
    return fine.clamp(0.0, 1.0)


def _plane(batch: int, height: int, width: int, offset: Tensor,
           slope_x: Tensor, slope_y: Tensor) -> Tensor:
    y = torch.linspace(-0.5, 0.5, height)[None, None, :, None]
    x = torch.linspace(-0.5, 0.5, width)[None, None, None, :]
    return (offset[:, None, None, None] + slope_x[:, None, None, None] * x
            + slope_y[:, None, None, None] * y)


def layered_scene(batch: int, height: int, width: int,
                  generator: torch.Generator):
    """Random layered scenes: (q B x 1 x H x W in [0, 1], layer masks
    B x MAX_LAYERS x H x W in {0, 1}, drawn back to front, each already
    cut by the layers in front of it)."""
    def uniform(low, high, *shape):
        return low + (high - low) * torch.rand(*(shape or (batch,)),
                                               generator=generator)

    # Ground: farther towards the top of the frame; sometimes a flat wall.
    slope = torch.where(torch.rand(batch, generator=generator) < 0.3,
                        torch.zeros(batch), uniform(0.1, 0.6))
    q = _plane(batch, height, width, uniform(0.0, 0.35), uniform(-0.1, 0.1),
               slope)
    q = q + 0.08 * (smooth_noise(batch, height, width, 4, generator) - 0.5)

    count = torch.randint(1, MAX_LAYERS + 1, (batch,), generator=generator)
    depths, _ = torch.sort(uniform(0.3, 1.0, batch, MAX_LAYERS), dim=1)
    masks = []
    for layer in range(MAX_LAYERS):
        cells = int(torch.randint(2, 7, (1,), generator=generator))
        blob = smooth_noise(batch, height, width, cells, generator)
        # A centred bump keeps layers object-like rather than frame-filling.
        cy, cx = uniform(-0.4, 0.4), uniform(-0.4, 0.4)
        y = torch.linspace(-0.5, 0.5, height)[None, :, None]
        x = torch.linspace(-0.5, 0.5, width)[None, None, :]
        spread = uniform(0.15, 0.45)[:, None, None]
        bump = torch.exp(-((y - cy[:, None, None]) ** 2
                           + (x - cx[:, None, None]) ** 2) / spread ** 2)
        threshold = uniform(0.55, 0.85)[:, None, None]
        mask = ((0.6 * blob[:, 0] + 0.6 * bump) > threshold).float()
        mask = mask * (layer < count).float()[:, None, None]
        plane = _plane(batch, height, width, depths[:, layer],
                       uniform(-0.15, 0.15), uniform(-0.15, 0.15))[:, 0]
        q = torch.where(mask[:, None] > 0, plane[:, None], q)
        masks.append(mask)
    masks = torch.stack(masks, dim=1)
    # Cut each layer by every layer drawn after it (nearer, on top).
    covered = torch.zeros_like(masks[:, 0])
    for layer in reversed(range(MAX_LAYERS)):
        own = masks[:, layer] * (1.0 - covered)
        covered = torch.maximum(covered, masks[:, layer])
        masks[:, layer] = own
    return q.clamp(0.0, 1.0), masks
