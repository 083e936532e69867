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
"""

import math
from dataclasses import dataclass, fields

import torch
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
