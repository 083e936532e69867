"""Aperture shapes: the point-spread function of a defocused lens.

A point off the focus plane images to a scaled copy of the lens aperture,
the circle of confusion (point 5 of design/synthetic-defocus.md). Every
kernel here is the aperture of radius r drawn with an anti-aliased edge:

    coverage(x) = clamp((r * rho(theta) - |x|) / softness + 1/2, 0, 1)

rho = 1 for a round iris and the polar equation of a regular n-gon for an
n-bladed one. A radial profile makes it ringed ("soap bubble", brighter
rim) or centre-heavy, a second, shifted disk clips it to a cat's eye (the
lens barrel vignetting the pupil off-axis), and a horizontal squeeze
mimics images resized without keeping the aspect ratio (dpdd1024-dev is
1680 x 1120 squeezed to 1024 x 1024). At r = 0 the kernel is exactly a
delta, so in-focus pixels stay untouched.

disc_radius measures any kernel, drawn or measured on real pairs
(fdikp.kernels), on the same scale as r; resample scales a measured
kernel to a given r for the generator's bank mode.
"""

import math
from dataclasses import dataclass, fields
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class Aperture:
    """One lens per sample: every field is a tensor of shape (B,)."""

    blades: Tensor      # 0 = round iris, else 5..9 straight blades
    rotation: Tensor    # blade orientation, radians
    softness: Tensor    # edge width in pixels (<= 2 keeps r = 0 a delta)
    profile: Tensor     # > 0 ringed rim, < 0 centre-heavy, 0 flat
    cats_eye_x: Tensor  # clipping-disk offset, in units of the radius
    cats_eye_y: Tensor
    squeeze: Tensor     # horizontal scale of the kernel, (0, 1]

    def to(self, device) -> "Aperture":
        return Aperture(*(getattr(self, f.name).to(device)
                          for f in fields(self)))

    @staticmethod
    def round(batch: int, device="cpu") -> "Aperture":
        """A plain soft-edged disk, for tests and references."""
        zeros = torch.zeros(batch, device=device)
        return Aperture(zeros.long(), zeros, zeros + 1.0, zeros, zeros,
                        zeros, zeros + 1.0)


def kernel_size(max_radius: float) -> int:
    """Odd side of a grid holding every kernel up to max_radius."""
    return 2 * int(math.ceil(max_radius)) + 3


def _per_sample(value: Tensor) -> Tensor:
    return value.float()[:, None, None, None]


def psf(radius: Tensor, aperture: Aperture, size: int) -> Tensor:
    """Kernels for radii (B, L) -> (B, L, size, size), each summing to 1."""
    device = radius.device
    half = size // 2
    axis = torch.arange(-half, half + 1, device=device, dtype=torch.float32)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    x = x / _per_sample(aperture.squeeze)
    dist = torch.sqrt(x * x + y * y)
    theta = torch.atan2(y, x) - _per_sample(aperture.rotation)

    blades = _per_sample(aperture.blades.clamp_min(3))
    sector = 2.0 * math.pi / blades
    polygon = (torch.cos(math.pi / blades)
               / torch.cos(torch.remainder(theta, sector) - sector / 2))
    rho = torch.where(_per_sample(aperture.blades) > 0, polygon,
                      torch.ones_like(polygon))

    r = radius.float()[:, :, None, None]
    edge = r * rho
    softness = _per_sample(aperture.softness)
    coverage = ((edge - dist) / softness + 0.5).clamp(0.0, 1.0)

    rim = (dist / edge.clamp_min(1e-3)).clamp(max=1.0)
    weight = (1.0 + _per_sample(aperture.profile) * (rim * rim - 0.5))

    shift_x = _per_sample(aperture.cats_eye_x) * r
    shift_y = _per_sample(aperture.cats_eye_y) * r
    clip_dist = torch.sqrt((x - shift_x) ** 2 + (y - shift_y) ** 2)
    clip = ((1.05 * r - clip_dist) / softness + 0.5).clamp(0.0, 1.0)

    kernel = coverage * weight.clamp_min(0.0) * clip
    return kernel / kernel.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)


def moments(kernels: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Centroid (x, y) and second central moments (x, y) of kernels
    (..., k, k), in pixels, x to the right and y down."""
    size = kernels.shape[-1]
    axis = torch.arange(size, device=kernels.device,
                        dtype=torch.float32) - size // 2
    mass = kernels.sum(dim=(-2, -1)).clamp_min(1e-12)
    column = kernels.sum(dim=-2) / mass[..., None]
    row = kernels.sum(dim=-1) / mass[..., None]
    cx, cy = (column * axis).sum(-1), (row * axis).sum(-1)
    vx = (column * (axis - cx[..., None]) ** 2).sum(-1)
    vy = (row * (axis - cy[..., None]) ** 2).sum(-1)
    return cx, cy, vx, vy


def disc_radius(kernels: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Equivalent uniform-disc radii of kernels (..., k, k), in pixels:
    overall and along x and y. A disc of radius r has mean squared radius
    r^2 / 2 and variance r^2 / 4 along each axis, so the overall radius is
    sqrt(2 (vx + vy)) and the axis ones 2 sqrt(v): all three are r for
    psf()'s round disc (plus its soft edge), and an ellipse gives its two
    semi-axes. Comparable with the generator's CoC radius."""
    _, _, vx, vy = moments(kernels)
    return (torch.sqrt(2.0 * (vx + vy)), 2.0 * torch.sqrt(vx),
            2.0 * torch.sqrt(vy))


def resample(kernels: Tensor, radius: Tensor, flip_x: Tensor,
             flip_y: Tensor, rotation: Tensor, size: int) -> Tensor:
    """Measured kernels (B, s, s) scaled to the radii (B, L), one kernel
    per (B, L) on a size x size grid, each summing to 1: the kernel is
    stretched by radius / disc_radius(kernel) about its centre, mirrored
    where flip_x / flip_y (B, bool) and turned by rotation (B, radians).
    Shrinking splats every source pixel bilinearly (mass is kept however
    small the result); enlarging samples bilinearly. Radius 0 gives an
    exact delta, like psf()."""
    batch, layers = radius.shape
    device = radius.device
    kernels = kernels.float()
    own = disc_radius(kernels)[0].clamp_min(1e-3)
    scale = radius.float() / own[:, None]                     # B x L
    cos, sin = torch.cos(rotation.float()), torch.sin(rotation.float())
    sign_x = 1.0 - 2.0 * flip_x.float()
    sign_y = 1.0 - 2.0 * flip_y.float()
    # Source -> destination: flip, then rotate, then scale.
    matrix = torch.stack([torch.stack([cos * sign_x, -sin * sign_y], -1),
                          torch.stack([sin * sign_x, cos * sign_y], -1)],
                         -2)                                  # B x 2 x 2
    half = size // 2

    # Shrinking: splat source pixels onto the destination grid.
    source = kernels.shape[-1]
    axis = torch.arange(source, device=device,
                        dtype=torch.float32) - source // 2
    sy, sx = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([sx.flatten(), sy.flatten()], -1)    # P x 2
    turned = torch.einsum("bij,pj->bpi", matrix, points)      # B x P x 2
    dest = turned[:, None] * scale[:, :, None, None] + half   # B x L x P x 2
    base = torch.floor(dest)
    frac = dest - base
    mass = kernels.flatten(1)[:, None].expand(-1, layers, -1)
    splat = torch.zeros(batch, layers, size * size, device=device)
    for dx in (0, 1):
        for dy in (0, 1):
            x = base[..., 0] + dx
            y = base[..., 1] + dy
            weight = ((frac[..., 0] if dx else 1.0 - frac[..., 0])
                      * (frac[..., 1] if dy else 1.0 - frac[..., 1]))
            inside = (x >= 0) & (x < size) & (y >= 0) & (y < size)
            index = (y.clamp(0, size - 1) * size
                     + x.clamp(0, size - 1)).long()
            splat.scatter_add_(2, index, mass * weight * inside)
    splat = splat.view(batch, layers, size, size)

    # Enlarging: sample the source at each destination pixel's preimage.
    grid_axis = torch.arange(size, device=device,
                             dtype=torch.float32) - half
    gy, gx = torch.meshgrid(grid_axis, grid_axis, indexing="ij")
    targets = torch.stack([gx.flatten(), gy.flatten()], -1)   # Q x 2
    back = torch.einsum("bji,qj->bqi", matrix, targets)       # inverse
    # grid_sample's coordinates: -1 and 1 are the outer pixel edges.
    back = (back[:, None] / scale.clamp_min(1e-6)[:, :, None, None]
            / (source // 2 + 0.5))
    sampled = F.grid_sample(
        kernels[:, None], back.reshape(batch, 1, layers * size * size, 2),
        mode="bilinear", padding_mode="zeros", align_corners=False)
    sampled = sampled.view(batch, layers, size, size)

    out = torch.where((scale <= 1.0)[:, :, None, None], splat, sampled)
    out = out / out.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    delta = torch.zeros(size, size, device=device)
    delta[half, half] = 1.0
    return torch.where((radius <= 0)[:, :, None, None], delta, out)
