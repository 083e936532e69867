"""Physically based synthetic defocus: (blurry, sharp) training pairs.

Implements design/synthetic-defocus.md, point by point:

1. linear light: sRGB is decoded before any blur and encoded after;
2. circle of confusion r = A |q - q_f| in inverse depth q (fdikp.depth),
   focus plane and aperture drawn per sample, the largest radius in a crop
   skewed towards small and medium values up to `max_radius`;
3. depth from the real scenes of train-depth/ or random layered scenes,
   whose layers are often cut from a second photo so that depth edges are
   colour edges, as in real photos;
4. occlusion: q is split into `depth_bins` layers, each layer's colour
   and alpha (extended behind nearer layers) blurred with its own kernel,
   premultiplied, and composited back to front, so a blurred foreground
   spills over a sharp background, and not the other way round;
5. aperture shapes (fdikp.aperture): soft disk, 5-9 blades, ringed or
   centre-heavy, cat's eye set by the crop's place in a virtual frame;
   or, for a share of the samples (bank_share), a kernel measured on real
   pairs (fdikp.kernels), mirrored, slightly turned and scaled to each
   layer's radius;
6. small saturated highlights pushed above 1.0 before the blur, clipped
   after;
7. Poisson-Gaussian noise after the blur, 8-bit quantisation of both
   images; exposure and white-balance jitter shared by both.

Everything is batched tensor code: it runs where its inputs are (a GPU
when there is one; blurring is one batched FFT). All random draws come
from a CPU torch.Generator seeded by (seed, batch index), so batch k is the
same pair on every device and after any resume.
"""

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .aperture import Aperture, kernel_size, psf, resample
from .depth import DepthScene, layered_scene, load_scenes

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
VALIDATION_EVERY = 10  # every 10th photo (by name) is held out for validation
VALIDATION_SEED = 12345  # the fixed synthetic validation set's seed
# The committed kernel bank (fdikp.kernels), package data beside this module.
BANK_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "kernel-banks", "dpdd-dev.npz")
BANK_MIN_RADIUS = 1.5  # px: measured kernels this small carry no shape
BANK_ROTATION = math.radians(10)  # largest turn of a bank kernel


def data_dir() -> str:
    """The shared data directory: $FDIKP_DATA, else <repo>/../shared/data."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    return os.environ.get("FDIKP_DATA",
                          os.path.join(repo, "..", "shared", "data"))


def dev_pairs_dir(given: Optional[str] = None) -> Optional[str]:
    """A command's --pairs folder, by default the data's dpdd1024-dev; None,
    with the reason on stderr, when it is not there."""
    pairs = given or os.path.join(data_dir(), "dpdd1024-dev")
    if not os.path.isdir(pairs):
        print("no pairs at %s (set FDIKP_DATA or --pairs)" % pairs,
              file=sys.stderr)
        return None
    return pairs


def srgb_to_linear(x: Tensor) -> Tensor:
    return torch.where(x <= 0.04045, x / 12.92,
                       ((x.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: Tensor) -> Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, 12.92 * x,
                       1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def quantise(x: Tensor) -> Tensor:
    return torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0


def fft_convolve(images: Tensor, kernels: Tensor) -> Tensor:
    """Circular convolution of images (B, L, C, H, W) with centred kernels
    (B, L, k, k), one kernel per (B, L), shared by the C channels."""
    height, width = images.shape[-2:]
    size = kernels.shape[-1]
    padded = F.pad(kernels, (0, width - size, 0, height - size))
    padded = torch.roll(padded, (-(size // 2), -(size // 2)), dims=(-2, -1))
    spectrum = torch.fft.rfft2(images.float())
    transfer = torch.fft.rfft2(padded.float())[:, :, None]
    return torch.fft.irfft2(spectrum * transfer, s=(height, width))


def gaussian_blur_fft(spectrum: Tensor, sigma: float, height: int,
                      width: int) -> Tensor:
    """irfft2 of an rfft2 spectrum times a Gaussian's transfer function."""
    fy = torch.fft.fftfreq(height, device=spectrum.device)[:, None]
    fx = torch.fft.rfftfreq(width, device=spectrum.device)[None, :]
    transfer = torch.exp(-2.0 * (math.pi * sigma) ** 2
                         * (fy ** 2 + fx ** 2))
    return torch.fft.irfft2(spectrum * transfer, s=(height, width))


def extend_behind(linear: Tensor, masks: Tensor, sigma: float):
    """Premultiplied layers (colour B x L x 3, alpha B x L x 1) whose parts
    hidden behind nearer layers are filled in by normalised convolution
    (Gaussian sigma) of the layer's visible pixels, in proportion to how
    much of what lies nearby at or behind it is this layer. Without this a
    blurred foreground edge would show its own colour where real lenses
    let the background shine through (partial occlusion)."""
    height, width = linear.shape[-2:]
    own = masks[:, :, None]                                # B x L x 1 x H x W
    spectrum = torch.fft.rfft2(torch.cat([linear[:, None] * own, own], 2))
    at_or_behind = torch.cumsum(spectrum[:, :, 3:], dim=1)
    smooth = gaussian_blur_fft(torch.cat([spectrum, at_or_behind], 2),
                               sigma, height, width)
    colour_near, own_near, behind_near = (smooth[:, :, :3], smooth[:, :, 3:4],
                                          smooth[:, :, 4:])
    in_front = (1.0 - torch.cumsum(own, dim=1)).clamp(0.0, 1.0)
    share = torch.where(behind_near > 1e-3,
                        own_near / behind_near.clamp_min(1e-3),
                        torch.zeros_like(own_near)).clamp(0.0, 1.0)
    fill = colour_near / own_near.clamp_min(1e-6)
    hidden = in_front * share
    return linear[:, None] * own + fill * hidden, own + hidden


def render_defocus(linear: Tensor, inverse_depth: Tensor, focus: Tensor,
                   strength: Tensor, aperture: Aperture, depth_bins: int,
                   max_radius: float,
                   bank: Optional[Dict[str, Tensor]] = None) -> Tensor:
    """Defocus a linear-light image (B x 3 x H x W) over its inverse depth
    (B x 1 x H x W): every pixel goes to the nearest of depth_bins depth
    layers, each layer (extended behind its occluders, extend_behind) is
    blurred premultiplied with a kernel of radius strength * |q - focus|,
    and the layers are composited back to front ("over"). Hard layer
    masks keep in-focus pixels exact; the result is divided by the
    accumulated alpha to close what holes remain. Borders wrap: callers
    crop a margin of max_radius off. `bank` (keys use, kernel, flip_x,
    flip_y, rotation; see draw_bank) swaps the aperture's kernels for
    a measured kernel's (aperture.resample) where `use` is set."""
    low = inverse_depth.amin(dim=(1, 2, 3))
    high = inverse_depth.amax(dim=(1, 2, 3))
    step = ((high - low) / max(depth_bins - 1, 1)).clamp_min(1e-6)
    levels = torch.arange(depth_bins, device=linear.device)
    centres = low[:, None] + step[:, None] * levels          # B x L, far first
    index = torch.round((inverse_depth[:, 0] - low[:, None, None])
                        / step[:, None, None]).clamp(0, depth_bins - 1)
    masks = (index[:, None] == levels[None, :, None, None]).float()
    radii = (strength[:, None] * (centres - focus[:, None]).abs()
             ).clamp(max=max_radius)
    kernels = psf(radii, aperture, kernel_size(max_radius))
    if bank is not None:
        measured = resample(bank["kernel"], radii, bank["flip_x"],
                            bank["flip_y"], bank["rotation"],
                            kernel_size(max_radius))
        kernels = torch.where(bank["use"][:, None, None, None], measured,
                              kernels)
    colour, alpha = extend_behind(linear, masks, sigma=max_radius / 2)
    blurred = fft_convolve(torch.cat([colour, alpha], dim=2), kernels)
    colour = blurred[:, :, :3]
    alpha = blurred[:, :, 3:].clamp(0.0, 1.0)
    # Transmittance of everything in front of bin i: prod_{j > i} (1 - a_j).
    in_front = torch.cumprod(torch.flip(1.0 - alpha, dims=[1]), dim=1)
    in_front = torch.cat([torch.ones_like(in_front[:, :1]),
                          in_front[:, :-1]], dim=1)
    in_front = torch.flip(in_front, dims=[1])
    total = (colour * in_front).sum(dim=1)
    coverage = (alpha * in_front).sum(dim=1)
    return total / coverage.clamp_min(1e-6)


@dataclass
class SynthConfig:
    """The generator's knobs; probabilities are per sample."""

    max_radius: float = 16.0     # largest CoC radius, px at training scale
    radius_skew: float = 0.8     # r_max = max_radius * u^skew (u uniform)
    p_sharp: float = 0.03        # pairs with no blur at all
    p_all_blurred: float = 0.15  # focus plane outside the scene
    depth_bins: int = 24
    p_real_depth: float = 0.2
    p_cut_out: float = 0.6       # layered scene layers cut from a 2nd photo
    p_polygon: float = 0.25
    p_profile: float = 0.3
    p_cats_eye: float = 0.3
    p_squeeze: float = 0.3
    p_highlights: float = 0.5
    noise: bool = True
    noise_scale: float = 1.0     # the noise's standard deviation times this
    #                              (the dev pairs' blurry side is about 3x
    #                              less noisy than the default's: 0.35)
    work_side: int = 1024        # photos are scaled to this long side
    # Measured kernels (fdikp.kernels): the share of samples whose kernel
    # shape comes from the bank, the bank file ("" = BANK_FILE) and the
    # folds (of fdikp/folds.json, comma-separated; "" = all) whose kernels
    # may be used: a model scored on a held-out fold must not see its
    # kernels.
    bank_share: float = 0.0
    kernel_bank: str = ""
    bank_folds: str = ""

    def margin(self) -> int:
        return int(math.ceil(self.max_radius)) + 4


class PhotoBank:
    """Sharp photos (uint8, 3 x H x W, long side <= work_side), decoded on
    first use and kept in memory."""

    def __init__(self, paths: List[str], work_side: int):
        self.paths = paths
        self.work_side = work_side
        self._cache: Dict[int, Tensor] = {}
        self._sizes = [self._size(p) for p in paths]

    def _size(self, path: str) -> Tuple[int, int]:
        with Image.open(path) as image:
            width, height = image.size
        scale = min(1.0, self.work_side / max(width, height))
        return round(height * scale), round(width * scale)

    def __len__(self) -> int:
        return len(self.paths)

    def size(self, index: int) -> Tuple[int, int]:
        return self._sizes[index]

    def get(self, index: int) -> Tensor:
        if index not in self._cache:
            with Image.open(self.paths[index]) as image:
                image = image.convert("RGB")
                height, width = self._sizes[index]
                if (width, height) != image.size:
                    image = image.resize((width, height), Image.LANCZOS)
                self._cache[index] = torch.from_numpy(
                    np.asarray(image).copy()).permute(2, 0, 1)
        return self._cache[index]


def photo_paths(photo_dir: str, split: str) -> List[str]:
    names = sorted(n for n in os.listdir(photo_dir)
                   if n.lower().endswith(PHOTO_EXTENSIONS))
    held_out = {n for i, n in enumerate(names) if i % VALIDATION_EVERY == 0}
    chosen = [n for n in names if (n in held_out) == (split == "val")]
    return [os.path.join(photo_dir, n) for n in chosen]


def load_bank(path: str = "", folds: str = "") -> Tensor:
    """The usable kernels (N, k, k, float32) of a bank written by
    fdikp.kernels --estimate, from the allowed folds only ("" = all;
    else comma-separated fold indices), at least BANK_MIN_RADIUS wide."""
    with np.load(path or BANK_FILE) as bank:
        keep = bank["usable"] & (bank["radius"] >= BANK_MIN_RADIUS)
        if folds.strip():
            allowed = [int(f) for f in folds.split(",") if f.strip()]
            keep &= np.isin(bank["fold"], allowed)
        kernels = bank["kernels"][keep].astype(np.float32)
    if len(kernels) == 0:
        raise ValueError("no usable kernels in %s for folds '%s'"
                         % (path or BANK_FILE, folds))
    kernels = torch.from_numpy(kernels)
    return kernels / kernels.sum(dim=(-2, -1), keepdim=True)


def _crop(image: Tensor, side: int, generator: torch.Generator) -> Tensor:
    height, width = image.shape[-2:]
    top = int(torch.randint(0, height - side + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - side + 1, (1,), generator=generator))
    return image[..., top:top + side, left:left + side]


class DefocusSynth:
    """Seeded, on-the-fly pairs: batch(k) is a pure function of
    (data, config, split, seed, k, batch_size, crop)."""

    def __init__(self, data: Optional[str] = None,
                 config: Optional[SynthConfig] = None, split: str = "train",
                 seed: int = 0, device="cpu"):
        data = data or data_dir()
        self.config = config or SynthConfig()
        self.split = split
        self.seed = seed
        self.device = torch.device(device)
        self.photos = PhotoBank(
            photo_paths(os.path.join(data, "train-photos"), split),
            self.config.work_side)
        if len(self.photos) == 0:
            raise FileNotFoundError("no photos in " + data + "/train-photos")
        self.scenes: List[DepthScene] = load_scenes(
            os.path.join(data, "train-depth"))
        self.bank: Optional[Tensor] = None
        if self.config.bank_share > 0:
            self.bank = load_bank(self.config.kernel_bank,
                                  self.config.bank_folds)

    def _generator(self, index: int) -> torch.Generator:
        stream = 0 if self.split == "train" else 1
        return torch.Generator().manual_seed(
            (self.seed * 1_000_003 + index) * 2 + stream)

    def _photo_crop(self, side: int, generator: torch.Generator) -> Tensor:
        fitting = [i for i in range(len(self.photos))
                   if min(self.photos.size(i)) >= side]
        if not fitting:
            raise ValueError("no photo has a side of %d px" % side)
        pick = fitting[int(torch.randint(len(fitting), (1,),
                                         generator=generator))]
        return _crop(self.photos.get(pick), side, generator)

    def batch(self, index: int, batch_size: int, crop: int
              ) -> Tuple[Tensor, Tensor]:
        """(blurry, sharp), both B x 3 x crop x crop in [0, 1], 8-bit
        levels, on self.device."""
        return self.batch_with_radii(index, batch_size, crop)[:2]

    def batch_with_radii(self, index: int, batch_size: int, crop: int
                         ) -> Tuple[Tensor, Tensor, Tensor]:
        """batch()'s (blurry, sharp) and each pair's largest
        circle-of-confusion radius in pixels (B, on the CPU): the pixels
        farthest from the focus plane get it."""
        return self.batch_with_coc(index, batch_size, crop)[:3]

    def batch_with_coc(self, index: int, batch_size: int, crop: int
                       ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """batch_with_radii's (blurry, sharp, largest radius) and every
        pixel's circle-of-confusion radius in pixels (B x 1 x crop x crop,
        coc_map): the ground truth of a defocus map."""
        generator = self._generator(index)
        side = crop + 2 * self.config.margin()
        images, extras, depths, real = [], [], [], []
        for _ in range(batch_size):
            scenes = [s for s in self.scenes
                      if min(s.image.shape[-2:]) >= side]
            use_real = (bool(scenes) and float(torch.rand(
                1, generator=generator)) < self.config.p_real_depth)
            if use_real:
                scene = scenes[int(torch.randint(len(scenes), (1,),
                                                 generator=generator))]
                both = torch.cat([scene.image.float(),
                                  scene.inverse_depth[None] * 255.0])
                both = _crop(both, side, generator)
                images.append(both[:3])
                depths.append(both[3:] / 255.0)
            else:
                images.append(self._photo_crop(side, generator).float())
                depths.append(torch.zeros(1, side, side))
            extras.append(self._photo_crop(side, generator).float())
            real.append(use_real)
        sharp = torch.stack(images) / 255.0
        extra = torch.stack(extras) / 255.0
        real_depth = torch.stack(depths)
        params = draw_parameters(self.config, batch_size, side, generator)
        q, masks = layered_scene(batch_size, side, side, generator)
        if self.bank is not None:
            params.update(draw_bank(self.config, self.bank, batch_size,
                                    generator))
        is_real = torch.tensor(real)[:, None, None, None]
        q = torch.where(is_real, real_depth, q)
        dev = self.device
        blurry, target = synthesise(
            sharp.to(dev), extra.to(dev), q.to(dev), masks.to(dev),
            is_real.to(dev), {k: v.to(dev) for k, v in params.items()},
            self.config)
        m = self.config.margin()
        coc = coc_map(q, params, self.config)
        return (blurry[..., m:m + crop, m:m + crop].contiguous(),
                target[..., m:m + crop, m:m + crop].contiguous(),
                params["r_max"], coc[..., m:m + crop, m:m + crop].contiguous())


def draw_parameters(c: SynthConfig, batch: int, side: int,
                    generator: torch.Generator) -> Dict[str, Tensor]:
    """Every random choice of a batch but the crops, the scene and the
    kernel bank's: blur, aperture, tone, noise."""

    def uniform(low, high, *shape):
        return low + (high - low) * torch.rand(*(shape or (batch,)),
                                               generator=generator)

    def chance(p):
        return torch.rand(batch, generator=generator) < p

    def log_uniform(low, high):
        return torch.exp(uniform(math.log(low), math.log(high)))

    r_max = c.max_radius * uniform(0.0, 1.0) ** c.radius_skew
    r_max = torch.where(chance(c.p_sharp), torch.zeros(batch), r_max)
    frame_x, frame_y = uniform(-1.0, 1.0), uniform(-1.0, 1.0)
    cats_eye = torch.where(chance(c.p_cats_eye), uniform(0.1, 0.6),
                           torch.zeros(batch))
    blades = torch.randint(5, 10, (batch,), generator=generator)
    return {
        "r_max": r_max,
        "focus_pixel": torch.randint(side * side, (batch,),
                                     generator=generator),
        "all_blurred": chance(c.p_all_blurred).float(),
        "outside_by": uniform(0.05, 0.4),
        "outside_near": chance(0.5).float(),
        "cut_out": chance(c.p_cut_out).float(),
        "blades": torch.where(chance(c.p_polygon), blades,
                              torch.zeros_like(blades)),
        "rotation": uniform(0.0, 2 * math.pi),
        "softness": uniform(0.6, 1.6),
        "profile": torch.where(chance(c.p_profile), uniform(-0.8, 1.5),
                               torch.zeros(batch)),
        "cats_eye_x": cats_eye * frame_x,
        "cats_eye_y": cats_eye * frame_y,
        "squeeze": torch.where(chance(c.p_squeeze), uniform(0.6, 1.0),
                               torch.ones(batch)),
        "exposure": log_uniform(0.7, 1.4),
        "white_balance": torch.exp(uniform(-0.08, 0.08, batch, 3)),
        "highlights": chance(c.p_highlights).float(),
        "highlight_gain": log_uniform(2.0, 16.0),
        "shot_noise": log_uniform(1e-5, 1e-3) * float(c.noise),
        "read_noise": log_uniform(1e-7, 3e-6) * float(c.noise),
        "noise": torch.randn(batch, 3, side, side, generator=generator),
    }


def draw_bank(c: SynthConfig, bank: Tensor, batch: int,
              generator: torch.Generator) -> Dict[str, Tensor]:
    """Which samples take their kernel from the bank (N, k, k), which
    kernel, how mirrored and how turned. Drawn after everything else, so
    a generator with a bank makes the same scenes, sharp targets and
    noise as one without, and one without draws what it always did."""
    use = torch.rand(batch, generator=generator) < c.bank_share
    index = torch.randint(len(bank), (batch,), generator=generator)
    flips = torch.rand(batch, 2, generator=generator) < 0.5
    turn = (2.0 * torch.rand(batch, generator=generator) - 1.0
            ) * BANK_ROTATION
    return {"bank_use": use, "bank_kernel": bank[index],
            "bank_flip_x": flips[:, 0], "bank_flip_y": flips[:, 1],
            "bank_rotation": turn}


def aperture_of(p: Dict[str, Tensor]) -> Aperture:
    """The parametric aperture of draw_parameters' draws."""
    return Aperture(p["blades"], p["rotation"], p["softness"],
                    p["profile"], p["cats_eye_x"], p["cats_eye_y"],
                    p["squeeze"])


def _highlight_mask(srgb: Tensor) -> Tensor:
    """Small bright regions: near-saturated pixels, faded out where the
    bright area is large (a sky is not a light bulb)."""
    luma = (0.2126 * srgb[:, 0] + 0.7152 * srgb[:, 1]
            + 0.0722 * srgb[:, 2])[:, None]
    bright = ((luma - 0.85) / 0.12).clamp(0.0, 1.0)
    extent = F.avg_pool2d(bright, 25, 1, 12, count_include_pad=False)
    return bright * (1.0 - 2.0 * extent).clamp(0.0, 1.0)


def dihedral_transform(image: Tensor, choice: int) -> Tensor:
    """The `choice`-th (0..7) of the 8 flips and rotations of a square image
    (or a batch of them, on the last two dimensions): bit 0 flips left-right,
    bit 1 top-bottom, bit 2 transposes."""
    if choice & 1:
        image = image.flip(-1)
    if choice & 2:
        image = image.flip(-2)
    if choice & 4:
        image = image.transpose(-1, -2)
    return image


def focus_and_strength(q: Tensor, p: Dict[str, Tensor]
                       ) -> Tuple[Tensor, Tensor]:
    """Each sample's focus (an inverse depth) and the blur radius per unit
    of inverse depth from it, so that the pixels farthest from the focus
    get r_max: a pixel at inverse depth q is blurred with a disc of radius
    strength * |q - focus| (render_defocus; coc_map)."""
    flat = q.flatten(1)
    focus = flat.gather(1, p["focus_pixel"][:, None])[:, 0]
    outside = torch.where(p["outside_near"] > 0,
                          flat.amax(1) + p["outside_by"],
                          flat.amin(1) - p["outside_by"])
    focus = torch.where(p["all_blurred"] > 0, outside, focus)
    reach = (flat - focus[:, None]).abs().amax(1).clamp_min(1e-3)
    return focus, p["r_max"] / reach


def coc_map(q: Tensor, p: Dict[str, Tensor], config: SynthConfig) -> Tensor:
    """The true circle-of-confusion radius of every pixel, in pixels
    (B x 1 x H x W): what the defocus map estimates. The pixel's own depth
    decides it; render_defocus blurs with its depth layer's radius, within
    half a layer of this."""
    focus, strength = focus_and_strength(q, p)
    view = (-1, 1, 1, 1)
    return (strength.view(view) * (q - focus.view(view)).abs()).clamp(
        max=config.max_radius)


def synthesise(sharp: Tensor, extra: Tensor, q: Tensor, masks: Tensor,
               is_real: Tensor, p: Dict[str, Tensor], config: SynthConfig
               ) -> Tuple[Tensor, Tensor]:
    """The device-side half of DefocusSynth.batch, on full (margin
    included) crops: sRGB in [0, 1] -> (blurry, sharp) sRGB, quantised."""
    batch = sharp.shape[0]
    # Layered scenes: layer l shows the second photo, flipped or turned
    # differently per layer (crops are square).
    cut = (p["cut_out"][:, None, None, None] > 0) & ~is_real
    for layer in range(masks.shape[1]):
        texture = dihedral_transform(extra, layer)
        inside = (masks[:, layer:layer + 1] > 0) & cut
        sharp = torch.where(inside, texture, sharp)

    def per_sample(name):
        return p[name].view(batch, *([1] * 3))

    gains = per_sample("exposure") * p["white_balance"][:, :, None, None]
    boost = 1.0 + (per_sample("highlight_gain") - 1.0) * _highlight_mask(
        sharp) * per_sample("highlights")
    linear = srgb_to_linear(sharp) * gains * boost

    focus, strength = focus_and_strength(q, p)
    bank = None
    if "bank_kernel" in p:
        bank = {"use": p["bank_use"], "kernel": p["bank_kernel"],
                "flip_x": p["bank_flip_x"], "flip_y": p["bank_flip_y"],
                "rotation": p["bank_rotation"]}
    blurred = render_defocus(linear, q, focus, strength, aperture_of(p),
                             config.depth_bins, config.max_radius, bank)
    blurred = blurred.clamp(0.0, 1.0)
    sigma = config.noise_scale * torch.sqrt(
        per_sample("shot_noise") * blurred + per_sample("read_noise"))
    blurred = blurred + sigma * p["noise"]
    return (quantise(linear_to_srgb(blurred)),
            quantise(linear_to_srgb(linear)))


def validation_set(data: Optional[str] = None, count: int = 64,
                   crop: int = 256, seed: int = VALIDATION_SEED,
                   config: Optional[SynthConfig] = None
                   ) -> Tuple[Tensor, Tensor]:
    """The fixed synthetic validation set: `count` crops from the held-out
    photos, on the CPU, identical on every machine for a given seed."""
    return validation_pairs(data, count, crop, seed, config)[:2]


def validation_pairs(data: Optional[str] = None, count: int = 64,
                     crop: int = 256, seed: int = VALIDATION_SEED,
                     config: Optional[SynthConfig] = None
                     ) -> Tuple[Tensor, Tensor, Tensor]:
    """validation_set's (blurry, sharp) and each pair's largest blur
    radius in pixels (count,)."""
    synth = DefocusSynth(data, config, split="val", seed=seed)
    pairs = [synth.batch_with_radii(i, 1, crop) for i in range(count)]
    blurry, sharp, radii = (torch.cat(part) for part in zip(*pairs))
    return blurry, sharp, radii


def save_png(image: Tensor, path: str) -> None:
    """Save a 3 x H x W tensor in [0, 1] as an 8-bit PNG."""
    array = (image.clamp(0, 1) * 255.0).round().byte().permute(1, 2, 0)
    Image.fromarray(array.cpu().numpy()).save(path)


def write_pairs(blurry: Tensor, sharp: Tensor, out_dir: str) -> None:
    """blur/NNNN.png and sharp/NNNN.png, the layout fdikp.evaluate reads."""
    for sub, images in (("blur", blurry), ("sharp", sharp)):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
        for i, image in enumerate(images):
            save_png(image, os.path.join(out_dir, sub, "%04d.png" % i))


def benchmark(synth: DefocusSynth, batch_size: int, crop: int,
              batches: int) -> float:
    """Pairs per second, after one warm-up batch (photo decoding)."""
    synth.batch(0, batch_size, crop)
    start = time.perf_counter()
    for i in range(1, batches + 1):
        blurry, _ = synth.batch(i, batch_size, crop)
    if blurry.is_cuda:
        torch.cuda.synchronize()
    return batches * batch_size / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.synth",
        description="Synthetic defocus pairs: benchmark the generator or "
                    "write pairs to a folder (blur/, sharp/).")
    parser.add_argument("--data", default=None,
                        help="data directory (default: $FDIKP_DATA)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--benchmark", type=int, metavar="BATCHES",
                        help="time this many batches and print pairs/s")
    parser.add_argument("--write", metavar="DIR",
                        help="write --count training pairs into DIR")
    parser.add_argument("--write-val", metavar="DIR",
                        help="write the fixed validation set into DIR")
    parser.add_argument("--count", type=int, default=64)
    args = parser.parse_args(argv)
    if args.benchmark:
        synth = DefocusSynth(args.data, seed=args.seed, device=args.device)
        rate = benchmark(synth, args.batch, args.crop, args.benchmark)
        print("%.2f pairs/s at %d x %d, batch %d, on %s"
              % (rate, args.crop, args.crop, args.batch, args.device))
    if args.write:
        synth = DefocusSynth(args.data, seed=args.seed, device=args.device)
        pairs = [synth.batch(i, 1, args.crop) for i in range(args.count)]
        write_pairs(torch.cat([b for b, _ in pairs]),
                    torch.cat([s for _, s in pairs]), args.write)
    if args.write_val:
        write_pairs(*validation_set(args.data, args.count, args.crop),
                    args.write_val)
    if not (args.benchmark or args.write or args.write_val):
        parser.print_usage(sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
