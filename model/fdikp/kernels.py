"""Blur kernels measured on real defocus pairs: a bank for the simulator.

    python3 -m fdikp.kernels --estimate [--pairs DIR] [--out FILE]
    python3 -m fdikp.kernels --describe [--bank FILE] [--out PNG]
        [--json FILE]

--estimate fits, for every (blurry, sharp) pair of dpdd1024-dev, a local
blur kernel in overlapping patches across the frame: regularised least
squares on image gradients (so the blurry shot's tone offset drops out),
in linear light, after matching the patch's mean gain, with a smoothness
penalty, solved by projected gradient on non-negative kernels summing to
1, then cleaned of the scattered floor the fit leaves. Each patch gets
a kernel for the three channels together and, to measure colour fringes,
a radius and centroid per channel; its fit quality (PSNR of sharp * k
against blurry) says which fits to trust. Per pair it also records the
blurry/sharp gain per channel and the noise level of both images.

--describe draws the bank against what fdikp.synth draws (radii, shapes,
cat's eyes, fringes) and writes the numbers as JSON.

Radii are equivalent-disc radii (aperture.disc_radius): the radius of the
uniform disc with the same second moment, the generator's CoC radius.
"""

import argparse
import json
import math
import os
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import Tensor

from .aperture import disc_radius, moments, psf, resample
from .folds import Folds
from .image_io import list_pairs, load_image
from .synth import (BANK_FILE, DefocusSynth, SynthConfig, aperture_of,
                    dev_pairs_dir, draw_parameters, linear_to_srgb,
                    srgb_to_linear)

SUPPORT = 53        # kernel side: y semi-axes reach ~24 px in these pairs
PATCH = 176         # fitted (blurry) patch side
GRID = 6            # patches per frame side (overlapping by a fifth)
ITERATIONS = 120    # projected gradient (FISTA) steps (converged by ~100)
RIDGE = 1e-5        # Tikhonov weight, relative to the gradient energy
SMOOTH = 0.5        # weight of |grad k|^2 (speckle), relative to the same
FLOOR = 0.1         # clean(): values below this share of the peak go
MAX_SPREAD = 1.7    # usable: disc radius / area radius at most this
MAX_EDGE = 0.01     # usable: mass in the support's outer 2 px at most this
# usable, from a radius of 3 px: radius_x / radius_y in this range. The
# resize makes round kernels 0.67 as wide as tall, cat's eyes narrow them
# further; wider than round (plus a margin for the fit's noise) or much
# narrower fits are artefacts (stripes along an edge of the scene), as a
# look at them showed.
SQUEEZE_RANGE = (0.4, 1.1)
MIN_TEXTURE = 0.01  # rms linear-light gradient below which a patch is flat
MIN_FIT_GAIN = 1.0  # dB the kernel must gain over no blur to be usable
MIN_FIT_PSNR = 30.0  # dB sharp * k must reach against blurry to be usable


def bank_file() -> str:
    """The committed bank (fdikp/kernel-banks/dpdd-dev.npz, package data:
    synth.BANK_FILE)."""
    return BANK_FILE


def gradients(image: Tensor) -> Tensor:
    """Forward differences along x and y of images (..., H, W) ->
    (..., 2, H - 1, W - 1)."""
    dx = image[..., :-1, 1:] - image[..., :-1, :-1]
    dy = image[..., 1:, :-1] - image[..., :-1, :-1]
    return torch.stack([dx, dy], dim=-3)


def project_simplex(kernels: Tensor) -> Tensor:
    """Euclidean projection of kernels (..., k, k) onto non-negative
    kernels summing to 1 (Duchi et al. 2008, by sorting)."""
    shape = kernels.shape
    flat = kernels.reshape(-1, shape[-2] * shape[-1])
    ordered = torch.sort(flat, dim=1, descending=True).values
    cumulative = torch.cumsum(ordered, dim=1) - 1.0
    ranks = torch.arange(1, flat.shape[1] + 1, device=flat.device,
                         dtype=flat.dtype)
    active = ordered - cumulative / ranks > 0
    count = active.sum(dim=1, keepdim=True).clamp_min(1)
    threshold = cumulative.gather(1, count - 1) / count
    return (flat - threshold).clamp_min(0.0).reshape(shape)


def clean(kernels: Tensor, floor: float = FLOOR) -> Tensor:
    """Kernels (..., k, k) without the fit's scattered floor: values below
    `floor` of the peak (of the 3 x 3 mean, so a lone spike does not set
    it) and pixels with fewer than three of their 3 x 3 neighbours left
    are zeroed, the rest renormalised to sum 1. Left in, that floor, a
    few per cent of the mass spread over the whole support, would add
    most of the second moment."""
    shape = kernels.shape
    flat = kernels.reshape(-1, 1, shape[-2], shape[-1])
    box = F.avg_pool2d(flat, 3, 1, 1)
    peak = box.amax(dim=(-2, -1), keepdim=True)
    kept = (flat >= floor * peak).float()
    neighbours = F.avg_pool2d(kept, 3, 1, 1, count_include_pad=True) * 9
    kept = kept * (neighbours >= 4)
    out = flat * kept
    out = out / out.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    return out.reshape(shape)


def area_radius(kernels: Tensor) -> Tensor:
    """The radius of the uniform disc with the kernels' effective area
    1 / sum k^2: close to disc_radius for one compact blob, far below it
    for scattered mass."""
    return torch.rsqrt(math.pi * kernels.pow(2).sum(dim=(-2, -1)))


def _correlate(a: Tensor, b: Tensor, reach: int) -> Tensor:
    """sum_p a(p) b(p - d) for |d| <= reach on each axis, for equally
    sized (..., M, M) arrays, b taken as zero outside its M x M:
    (..., 2 reach + 1, 2 reach + 1), d = 0 in the middle."""
    size = a.shape[-1] + reach
    spectrum = (torch.fft.rfft2(a, s=(size, size))
                * torch.conj(torch.fft.rfft2(b, s=(size, size))))
    full = torch.fft.irfft2(spectrum, s=(size, size))
    full = torch.roll(full, (reach, reach), dims=(-2, -1))
    return full[..., :2 * reach + 1, :2 * reach + 1]


def fit_kernels(sharp: Tensor, blurry: Tensor, support: int = SUPPORT,
                iterations: int = ITERATIONS, ridge: float = RIDGE,
                smooth: float = SMOOTH) -> Tensor:
    """Least-squares kernels k (N, support, support), k >= 0, sum 1, with
    grad(sharp) * k ~ grad(blurry) on each patch.

    sharp: (N, C, M, M) with M = P + support - 1; blurry: (N, C, P, P),
    the middle of the same place; gains already matched. The C channels
    share one kernel. Penalties, relative to the gradients' energy:
    ridge |k|^2, and smooth |grad k|^2, without which the data's noise
    breaks real kernels into speckle and rings. The normal equations use
    the gradients' autocorrelation over the patch (Toeplitz: exact up to
    the patch's border) and are solved by FISTA with projection onto the
    simplex, started from a delta."""
    reach = support // 2
    patch = blurry.shape[-1]
    x = gradients(sharp)                       # N x C x 2 x (M-1) x (M-1)
    y = gradients(blurry)
    inner = torch.zeros_like(x)
    inner[..., reach:reach + patch - 1, reach:reach + patch - 1] = \
        x[..., reach:reach + patch - 1, reach:reach + patch - 1]
    placed = torch.zeros_like(x)
    placed[..., reach:reach + patch - 1, reach:reach + patch - 1] = y
    # c(d) = sum_p y(p) x(p - d); a(e) = sum_p x(p) x(p - e), |e| <= 2r.
    cross = _correlate(placed, x, reach).sum(dim=(1, 2))
    auto = _correlate(inner, x, 2 * reach).sum(dim=(1, 2))
    auto = 0.5 * (auto + auto.flip(-2, -1))
    energy = auto[:, 2 * reach, 2 * reach].clamp_min(1e-12)
    fft = 16 * math.ceil((3 * support - 2) / 16)   # linear, not circular
    symbol = torch.fft.rfft2(auto, s=(fft, fft))
    step = 1.0 / (symbol.abs().amax(dim=(-2, -1))
                  + (ridge + 8.0 * smooth) * energy)
    step, lam = step[:, None, None], (ridge * energy)[:, None, None]
    mu = (smooth * energy)[:, None, None]

    def laplacian(k: Tensor) -> Tensor:
        padded = F.pad(k, (1, 1, 1, 1))
        return (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1]
                + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:] - 4.0 * k)

    def hessian(k: Tensor) -> Tensor:
        full = torch.fft.irfft2(torch.fft.rfft2(k, s=(fft, fft)) * symbol,
                                s=(fft, fft))
        return full[:, 2 * reach:2 * reach + support,
                    2 * reach:2 * reach + support]

    k = torch.zeros(sharp.shape[0], support, support)
    k[:, reach, reach] = 1.0
    momentum, t = k, 1.0
    for _ in range(iterations):
        grad = (hessian(momentum) - cross + lam * momentum
                - mu * laplacian(momentum))
        new = project_simplex(momentum - step * grad)
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum = new + (t - 1.0) / t_next * (new - k)
        k, t = new, t_next
    return k


def convolve_valid(sharp: Tensor, kernels: Tensor) -> Tensor:
    """sharp (N, C, M, M) * kernels (N, k, k), one kernel per patch shared
    by the channels, where the kernel lies inside: (N, C, M-k+1, M-k+1)."""
    size, support = sharp.shape[-1], kernels.shape[-1]
    padded = torch.zeros(kernels.shape[0], size, size)
    padded[:, :support, :support] = kernels
    padded = torch.roll(padded, (-(support // 2), -(support // 2)),
                        dims=(-2, -1))
    full = torch.fft.irfft2(torch.fft.rfft2(sharp)
                            * torch.fft.rfft2(padded)[:, None],
                            s=(size, size))
    reach = support // 2
    return full[..., reach:size - reach, reach:size - reach]


def noise_level(image: Tensor) -> Tensor:
    """Per-channel noise sigma of an image (3, H, W) in [0, 1], in 8-bit
    levels, from the finest diagonal Haar coefficients (sigma each for
    white noise) in the calmer half of the frame (horizontal and vertical
    detail below its median), as sqrt(pi / 2) mean |d|: a mean rather than
    Donoho's median because 8-bit levels make the median jump in halves.
    Texture still adds a little; quantisation alone gives 0.29."""
    height, width = (s - s % 2 for s in image.shape[-2:])
    x = image[:, :height, :width] * 255.0
    a, b = x[:, 0::2, 0::2], x[:, 0::2, 1::2]
    c, d = x[:, 1::2, 0::2], x[:, 1::2, 1::2]
    diagonal = ((a - b - c + d) / 2.0).flatten(1)
    detail = ((a + b - c - d).abs() + (a - b + c - d).abs()).flatten(1)
    calm = detail <= detail.median(dim=1, keepdim=True).values
    mean = (diagonal.abs() * calm).sum(1) / calm.sum(1)
    return math.sqrt(math.pi / 2.0) * mean


def _psnr(estimate: Tensor, reference: Tensor) -> Tensor:
    """PSNR in dB per leading index, images in [0, 1]."""
    error = (estimate - reference).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / error.clamp_min(1e-10))


def estimate_pair(blurry: Tensor, sharp: Tensor, support: int = SUPPORT,
                  patch: int = PATCH, grid: int = GRID,
                  iterations: int = ITERATIONS) -> Dict[str, Tensor]:
    """Kernels and measurements of one pair (sRGB, 3 x H x W in [0, 1])
    on a grid x grid lattice of patches (see the module docstring)."""
    linear_b, linear_s = srgb_to_linear(blurry), srgb_to_linear(sharp)
    height, width = blurry.shape[-2:]
    reach = support // 2
    extent = patch + 2 * reach
    tops = torch.linspace(0, height - extent, grid).round().long()
    lefts = torch.linspace(0, width - extent, grid).round().long()
    corners = [(int(t), int(left)) for t in tops for left in lefts]
    outer = torch.stack([linear_s[:, t:t + extent, left:left + extent]
                         for t, left in corners])
    inner = slice(reach, reach + patch)
    seen = torch.stack([linear_b[:, t:t + extent, left:left + extent]
                        for t, left in corners])[..., inner, inner]
    seen_srgb = torch.stack([blurry[:, t:t + extent, left:left + extent]
                             for t, left in corners])[..., inner, inner]
    gain = (seen.mean(dim=(-2, -1))
            / outer[..., inner, inner].mean(dim=(-2, -1)).clamp_min(1e-6))
    matched = outer * gain[..., None, None]
    count = len(corners)

    joint = clean(fit_kernels(matched, seen, support, iterations))
    channels = clean(fit_kernels(
        matched.reshape(count * 3, 1, extent, extent),
        seen.reshape(count * 3, 1, patch, patch), support,
        iterations).view(count, 3, support, support))
    fitted = convolve_valid(matched, joint)
    psnr_fit = _psnr(linear_to_srgb(fitted), seen_srgb)
    psnr_identity = _psnr(linear_to_srgb(matched[..., inner, inner]),
                          seen_srgb)
    texture = gradients(outer[..., inner, inner]).pow(2).mean(
        dim=(1, 2, 3, 4)).sqrt()

    cx, cy, _, _ = moments(joint)
    shift_x, shift_y = cx.round().long(), cy.round().long()
    centred = torch.stack([torch.roll(k, (-int(sy), -int(sx)), dims=(0, 1))
                           for k, sx, sy in zip(joint, shift_x, shift_y)])
    radius, radius_x, radius_y = disc_radius(centred)
    ch_cx, ch_cy, _, _ = moments(channels)
    centre = torch.tensor([[(left + extent / 2) / width * 2 - 1,
                            (t + extent / 2) / height * 2 - 1]
                           for t, left in corners])
    spread = radius / area_radius(centred)
    edge = centred.sum(dim=(-2, -1)) - centred[:, 2:-2, 2:-2].sum(
        dim=(-2, -1))
    squeeze = radius_x / radius_y.clamp_min(1e-6)
    shaped = ((squeeze >= SQUEEZE_RANGE[0]) & (squeeze <= SQUEEZE_RANGE[1])
              | (radius < 3.0))
    usable = ((texture >= MIN_TEXTURE) & (psnr_fit >= MIN_FIT_PSNR)
              & (psnr_fit - psnr_identity >= MIN_FIT_GAIN)
              & (spread <= MAX_SPREAD) & (edge <= MAX_EDGE) & shaped)
    return {
        "kernels": centred,
        "centre": centre,
        "radius": radius,
        "spread": spread,
        "edge": edge,
        "radius_xy": torch.stack([radius_x, radius_y], -1),
        "offset": torch.stack([cx, cy], -1),
        "channel_radius": disc_radius(channels)[0],
        "channel_offset": torch.stack([ch_cx - cx[:, None],
                                       ch_cy - cy[:, None]], -1),
        "patch_gain": gain,
        "psnr_fit": psnr_fit,
        "psnr_identity": psnr_identity,
        "texture": texture,
        "usable": usable,
    }


def pair_photometry(blurry: Tensor, sharp: Tensor) -> Dict[str, Tensor]:
    """Whole-frame tone and noise of a pair: the blurry/sharp gain per
    channel in linear light, the mean level difference in 8-bit levels,
    and each image's noise_level."""
    linear_b, linear_s = srgb_to_linear(blurry), srgb_to_linear(sharp)
    return {
        "gain": linear_b.mean(dim=(1, 2)) / linear_s.mean(dim=(1, 2)),
        "level_offset": (blurry - sharp).mean(dim=(1, 2)) * 255.0,
        "noise_blurry": noise_level(blurry),
        "noise_sharp": noise_level(sharp),
    }


def estimate_bank(pairs_dir: str, out: str, names: Optional[List[str]] = None,
                  folds: Optional[Folds] = None) -> Dict[str, np.ndarray]:
    """Run estimate_pair and pair_photometry on every pair and write the
    bank (npz, compressed): per patch the kernel (float16; zero where not
    usable, which keeps the file small) and its measurements, per pair
    the photometry, plus each patch's pair index and fold."""
    names = names or list_pairs(pairs_dir)
    folds = folds or Folds()
    patches: Dict[str, List[Tensor]] = {}
    photometry: Dict[str, List[Tensor]] = {}
    for index, name in enumerate(names):
        blurry = load_image(os.path.join(pairs_dir, "blur", name))
        sharp = load_image(os.path.join(pairs_dir, "sharp", name))
        result = estimate_pair(blurry, sharp)
        count = len(result["radius"])
        result["pair"] = torch.full((count,), index)
        result["fold"] = torch.full((count,), folds.fold_of(name))
        for key, value in result.items():
            patches.setdefault(key, []).append(value)
        for key, value in pair_photometry(blurry, sharp).items():
            photometry.setdefault(key, []).append(value)
        usable = result["usable"]
        print("%s fold %d: %d/%d usable, radius median %.1f px, fit %.1f dB"
              " (no blur %.1f)" % (
                  name, folds.fold_of(name), int(usable.sum()), count,
                  float(result["radius"][usable].median())
                  if usable.any() else float("nan"),
                  float(result["psnr_fit"].mean()),
                  float(result["psnr_identity"].mean())), flush=True)
    bank = {key: torch.cat(value).numpy() for key, value in patches.items()}
    bank["kernels"] = (bank["kernels"] * bank["usable"][:, None, None]
                       ).astype(np.float16)
    bank["fold"] = bank["fold"].astype(np.int8)
    bank["pair"] = bank["pair"].astype(np.int16)
    bank["usable"] = bank["usable"].astype(bool)
    for key, value in photometry.items():
        bank["pair_" + key] = torch.stack(value).numpy()
    bank["names"] = np.array(names)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez_compressed(out, **bank)
    return bank


# --describe: one picture of the bank against the generator.

WHITE, INK, GREY = (255, 255, 255), (30, 30, 30), (150, 150, 150)
BANK_COLOUR, SYNTH_COLOUR = (31, 119, 180), (214, 39, 40)
CHANNEL_COLOURS = [(214, 39, 40), (44, 160, 44), (31, 119, 180)]
RADIUS_BINS = [(1.5, 3.0), (3.0, 5.0), (5.0, 7.0), (7.0, 10.0),
               (10.0, 14.0), (14.0, 26.0)]
TILE = SUPPORT * 3  # a kernel drawn 3x
ROW = TILE + 44     # a row of kernels with its title and labels
SHAPE_RADIUS = 8.0  # kernels compared for shape are scaled to this radius


def percentiles(values: np.ndarray, points: Sequence[float] = (
        5, 25, 50, 75, 95)) -> Dict[str, float]:
    if len(values) == 0:
        return {}
    return {"p%d" % p: round(float(np.percentile(values, p)), 3)
            for p in points}


def synth_radii(config: SynthConfig, count: int = 100000,
                seed: int = 0) -> np.ndarray:
    """Per-crop largest radii as fdikp.synth draws them (r_max = max_radius
    * u^radius_skew, zero for the p_sharp share)."""
    generator = torch.Generator().manual_seed(seed)
    r_max = config.max_radius * torch.rand(
        count, generator=generator) ** config.radius_skew
    sharp = torch.rand(count, generator=generator) < config.p_sharp
    return torch.where(sharp, torch.zeros(count), r_max).numpy()


def synth_kernels(config: SynthConfig, radius: float, count: int,
                  seed: int = 0) -> Tensor:
    """`count` parametric kernels of the generator at one radius, their
    apertures drawn as fdikp.synth draws them."""
    generator = torch.Generator().manual_seed(seed)
    params = draw_parameters(config, count, 1, generator)
    return psf(torch.full((count, 1), radius), aperture_of(params),
               SUPPORT)[:, 0]


def synth_noise(config: SynthConfig, crops: int = 16, crop: int = 256
                ) -> Optional[np.ndarray]:
    """noise_level of the generator's blurry crops (crops x 3), or None
    without its training photos."""
    try:
        generator = DefocusSynth(config=config, seed=0)
    except FileNotFoundError:
        return None
    blurry = torch.cat([generator.batch(i, 4, crop)[0]
                        for i in range((crops + 3) // 4)])
    return torch.stack([noise_level(b) for b in blurry]).numpy()


def summarise(bank, config: SynthConfig,
              noise: Optional[np.ndarray]) -> Dict:
    """The bank's numbers beside the generator's."""
    usable = bank["usable"]
    radius = bank["radius"][usable]
    shaped = usable & (bank["radius"] >= 3.0)
    squeeze = bank["radius_xy"][shaped, 0] / bank["radius_xy"][shaped, 1]
    all_squeeze = bank["radius_xy"][:, 0] / np.maximum(
        bank["radius_xy"][:, 1], 1e-6)
    squeeze_ok = (((all_squeeze >= SQUEEZE_RANGE[0])
                   & (all_squeeze <= SQUEEZE_RANGE[1]))
                  | (bank["radius"] < 3.0))
    fringe = bank["channel_radius"][shaped] - bank["radius"][shaped, None]
    lateral = np.hypot(*np.moveaxis(bank["channel_offset"][shaped], -1, 0))
    synth = synth_radii(config)
    summary = {
        "patches": int(len(usable)),
        "usable": int(usable.sum()),
        "failing (a patch can fail several)": {
            "flat": int((bank["texture"] < MIN_TEXTURE).sum()),
            "fit_psnr": int((bank["psnr_fit"] < MIN_FIT_PSNR).sum()),
            "fit_gain": int((bank["psnr_fit"] - bank["psnr_identity"]
                             < MIN_FIT_GAIN).sum()),
            "scattered": int((bank["spread"] > MAX_SPREAD).sum()),
            "cut_by_the_support": int((bank["edge"] > MAX_EDGE).sum()),
            "squeeze_out_of_range": int((~squeeze_ok).sum())},
        "usable_per_fold": {
            str(f): int((usable & (bank["fold"] == f)).sum())
            for f in sorted(set(bank["fold"].tolist()))},
        "radius": percentiles(radius),
        "radius_max": round(float(radius.max()), 3) if len(radius) else None,
        "radius_x": percentiles(bank["radius_xy"][usable, 0]),
        "radius_y": percentiles(bank["radius_xy"][usable, 1]),
        "squeeze_x_over_y": percentiles(squeeze),
        "squeeze_range_kept": list(SQUEEZE_RANGE),
        "squeeze_of_resize": round((1024 / 1680) / (1024 / 1120), 3),
        "fringe_radius_minus_joint": {
            c: percentiles(fringe[:, i]) for i, c in enumerate("RGB")},
        "fringe_lateral_offset": {
            c: percentiles(lateral[:, i]) for i, c in enumerate("RGB")},
        "registration_offset": percentiles(
            np.hypot(*bank["offset"][usable].T)),
        "psnr_fit": percentiles(bank["psnr_fit"][usable]),
        "psnr_no_blur": percentiles(bank["psnr_identity"][usable]),
        "pair_gain_blurry_over_sharp": {
            c: percentiles(bank["pair_gain"][:, i], (5, 50, 95))
            for i, c in enumerate("RGB")},
        "pair_level_offset": {
            c: percentiles(bank["pair_level_offset"][:, i], (5, 50, 95))
            for i, c in enumerate("RGB")},
        "noise_blurry": percentiles(bank["pair_noise_blurry"].ravel(),
                                    (5, 50, 95)),
        "noise_sharp": percentiles(bank["pair_noise_sharp"].ravel(),
                                   (5, 50, 95)),
        "synth_r_max": percentiles(synth),
        "synth_share_above_10px": round(float((synth > 10).mean()), 3),
        "bank_share_above_10px": round(float((radius > 10).mean()), 3)
        if len(radius) else None,
    }
    if noise is not None:
        summary["synth_noise_blurry"] = percentiles(noise.ravel(),
                                                    (5, 50, 95))
    return summary


def _kernel_tile(kernel: Tensor, colour=(255, 255, 255)) -> Image.Image:
    """A kernel as a TILE x TILE picture, its peak white (gamma 0.5 so the
    rim and the faint parts show)."""
    k = kernel.float()
    pad = (SUPPORT - k.shape[-1]) // 2
    if pad > 0:
        k = F.pad(k, (pad, pad, pad, pad))
    k = (k / k.max().clamp_min(1e-12)).clamp(0, 1).sqrt()
    rgb = (k[..., None] * torch.tensor(colour, dtype=torch.float32))
    image = Image.fromarray(rgb.round().byte().numpy())
    return image.resize((TILE, TILE), Image.NEAREST)


def _histogram(draw: ImageDraw.ImageDraw, box, series, edges, ticks, title,
               x_label):
    """Line histograms (fractions per bin) of `series` [(label, colour,
    values)] over `edges`, in box (left, top, right, bottom), the x axis
    marked at `ticks`."""
    left, top, right, bottom = box
    draw.text((left, top - 16), title, fill=INK)
    counts = []
    for _, _, values in series:
        h, _ = np.histogram(values, bins=edges)
        counts.append(h / max(len(values), 1))
    peak = max(float(c.max()) for c in counts) or 1.0
    draw.rectangle(box, outline=GREY)

    def x_of(v):
        return left + (v - edges[0]) / (edges[-1] - edges[0]) * (right - left)

    def y_of(f):
        return bottom - f / peak * (bottom - top - 8)

    for v in ticks:
        draw.line([(x_of(v), bottom), (x_of(v), bottom + 4)], fill=GREY)
        draw.text((x_of(v) - 8, bottom + 5), "%g" % round(v, 1), fill=INK)
    draw.text((right - 7 * len(x_label), bottom + 18), x_label, fill=INK)
    for i, ((label, colour, _), h) in enumerate(zip(series, counts)):
        points = []
        for j, f in enumerate(h):
            points += [(x_of(edges[j]), y_of(f)), (x_of(edges[j + 1]),
                                                   y_of(f))]
        draw.line(points, fill=colour, width=2)
        draw.text((right - 230, top + 6 + 14 * i), label, fill=colour)


def describe(bank, config: SynthConfig, out: str,
             noise: Optional[np.ndarray]) -> Dict:
    """Draw the bank against the generator into `out` (PNG) and return
    summarise()'s numbers."""
    summary = summarise(bank, config, noise)
    usable = bank["usable"]
    kernels = torch.from_numpy(bank["kernels"].astype(np.float32))
    radius = bank["radius"]
    width = 8 * (TILE + 10) + 40
    sheet = Image.new("RGB", (width, 290 + 4 * ROW + 110), WHITE)
    draw = ImageDraw.Draw(sheet)
    draw.text((20, 6), "Kernel bank: %d usable of %d patches on %d pairs "
              "(equivalent-disc radius, px at 1024 x 1024)"
              % (summary["usable"], summary["patches"], len(bank["names"])),
              fill=INK)

    edges = np.arange(0, 26.5, 1.0)
    _histogram(draw, (20, 46, width // 2 - 20, 250), [
        ("bank: radius per patch", BANK_COLOUR, radius[usable]),
        ("bank: along x", (120, 170, 220), bank["radius_xy"][usable, 0]),
        ("bank: along y", (20, 60, 110), bank["radius_xy"][usable, 1]),
        ("synth: largest radius per crop", SYNTH_COLOUR,
         synth_radii(config))],
        edges, range(0, 27, 2), "radius histograms (fraction per 1 px bin)",
        "radius px")
    shaped = usable & (radius >= 3.0)
    fringe = bank["channel_radius"][shaped] - radius[shaped, None]
    _histogram(draw, (width // 2 + 20, 46, width - 20, 250), [
        ("%s - joint radius" % c, CHANNEL_COLOURS[i], fringe[:, i])
        for i, c in enumerate("RGB")], np.arange(-3.0, 3.01, 0.25),
        range(-3, 4), "colour fringes: each channel's radius - the joint "
        "kernel's (patches with radius >= 3; synth: none)", "px")

    def row(y, title, tiles, labels):
        draw.text((20, y), title, fill=INK)
        for i, (tile, label) in enumerate(zip(tiles, labels)):
            x = 20 + i * (TILE + 10)
            sheet.paste(tile, (x, y + 16))
            draw.text((x, y + 18 + TILE), label, fill=INK)

    means, labels = [], []
    for low, high in RADIUS_BINS:
        chosen = usable & (radius >= low) & (radius < high)
        if chosen.any():
            means.append(_kernel_tile(kernels[chosen].mean(0)))
        else:
            means.append(Image.new("RGB", (TILE, TILE), GREY))
        labels.append("r %g-%g: %d" % (low, high, int(chosen.sum())))
    row(290, "mean bank kernel by radius (x squeezed by the resize; "
        "count under each)",
        means, labels)

    shape_kernels = torch.zeros(0, SUPPORT, SUPPORT)
    shape_index = np.flatnonzero(shaped)
    if len(shape_index):
        chosen = kernels[shape_index]
        false = torch.zeros(len(chosen), dtype=torch.bool)
        shape_kernels = resample(chosen, torch.full((len(chosen), 1),
                                                    SHAPE_RADIUS),
                                 false, false, torch.zeros(len(chosen)),
                                 SUPPORT)[:, 0]
    centre = bank["centre"][shape_index]
    tiles, labels = [], []
    for name, (cx, cy) in (("top left", (-1, -1)), ("top", (0, -1)),
                           ("top right", (1, -1)), ("centre", (0, 0)),
                           ("bottom left", (-1, 1)), ("bottom", (0, 1)),
                           ("bottom right", (1, 1))):
        near = ((np.abs(centre[:, 0] - cx * 0.7) < 0.35)
                & (np.abs(centre[:, 1] - cy * 0.7) < 0.35))
        if near.any():
            tiles.append(_kernel_tile(shape_kernels[near].mean(0)))
        else:
            tiles.append(Image.new("RGB", (TILE, TILE), GREY))
        labels.append("%s: %d" % (name, int(near.sum())))
    row(290 + ROW, "mean bank kernel (r >= 3, scaled to r %g) by place in the "
        "frame: cat's eye" % SHAPE_RADIUS, tiles, labels)

    generator = np.random.default_rng(0)
    picks = []
    for low, high in RADIUS_BINS + [(3.0, 26.0), (3.0, 26.0)]:
        pool = np.flatnonzero(usable & (radius >= low) & (radius < high))
        if len(pool):
            picks.append(int(generator.choice(pool)))
    row(290 + 2 * ROW, "single bank kernels (random, by radius)",
        [_kernel_tile(kernels[i]) for i in picks],
        ["%s r %.1f" % (str(bank["names"][bank["pair"][i]])[4:8],
                        radius[i]) for i in picks])
    drawn = synth_kernels(config, SHAPE_RADIUS, 8)
    row(290 + 3 * ROW, "the generator's parametric kernels (fdikp.aperture.psf, "
        "apertures drawn as synth draws them, r %g)" % SHAPE_RADIUS,
        [_kernel_tile(k) for k in drawn],
        ["r %.1f" % float(disc_radius(k)[0]) for k in drawn])

    lines = [
        "radius p5/p50/p95: bank %s   synth r_max %s" % (
            "/".join("%.1f" % v for v in summary["radius"].values()
                     if v is not None),
            "/".join("%.1f" % v for v in summary["synth_r_max"].values())),
        "squeeze x/y median %.2f (the resize's %.2f)   registration offset "
        "median %.2f px" % (summary["squeeze_x_over_y"].get("p50", 0.0),
                            summary["squeeze_of_resize"],
                            summary["registration_offset"].get("p50", 0.0)),
        "fringes, radius - joint, median R %.2f G %.2f B %.2f px" % tuple(
            summary["fringe_radius_minus_joint"][c].get("p50", 0.0)
            for c in "RGB"),
        "tone: blurry/sharp linear gain median R %.3f G %.3f B %.3f "
        "(synth: 1, shared exposure)" % tuple(
            summary["pair_gain_blurry_over_sharp"][c]["p50"]
            for c in "RGB"),
        "noise sigma median (8-bit levels): blurry %.2f, sharp %.2f%s" % (
            summary["noise_blurry"]["p50"], summary["noise_sharp"]["p50"],
            ", synth blurry %.2f" % summary["synth_noise_blurry"]["p50"]
            if "synth_noise_blurry" in summary else ""),
        "fit PSNR median %.1f dB (no blur %.1f dB)" % (
            summary["psnr_fit"].get("p50", 0.0),
            summary["psnr_no_blur"].get("p50", 0.0)),
    ]
    for i, line in enumerate(lines):
        draw.text((20, 290 + 4 * ROW + 6 + 16 * i), line, fill=INK)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    sheet.save(out)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.kernels",
        description="Blur kernels measured on real defocus pairs: estimate "
                    "a bank, or draw one against the generator.")
    parser.add_argument("--estimate", action="store_true")
    parser.add_argument("--describe", action="store_true")
    parser.add_argument("--pairs", default=None,
                        help="pairs folder (blur/, sharp/; default: "
                             "$FDIKP_DATA/dpdd1024-dev)")
    parser.add_argument("--bank", default=bank_file())
    parser.add_argument("--out", default=None,
                        help="the bank (--estimate) or the PNG "
                             "(--describe)")
    parser.add_argument("--json", default=None,
                        help="--describe: write the numbers here too")
    args = parser.parse_args(argv)
    if args.estimate == args.describe:
        parser.error("give one of --estimate and --describe")
    torch.set_num_threads(1)
    if args.estimate:
        pairs = dev_pairs_dir(args.pairs)
        if pairs is None:
            return 1
        estimate_bank(pairs, args.out or args.bank)
        return 0
    with np.load(args.bank) as loaded:
        bank = dict(loaded)
    config = SynthConfig()
    summary = describe(bank, config, args.out or "kernel-bank.png",
                       synth_noise(config))
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
