"""Image quality metrics, by the project's evaluation conventions
(design/fdikp-architecture.md): PSNR on float images clamped to [0, 1]
(data range 1), Gaussian SSIM (Wang et al. 2004: 11 x 11 window, sigma
1.5, K1 = 0.01, K2 = 0.03, valid filtering, per channel, averaged) and
MAE. Every function takes N x C x H x W tensors and returns one score per
image (N,), computed in float64.
"""

import torch
from torch import Tensor

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _prepare(estimate: Tensor, reference: Tensor):
    if estimate.shape != reference.shape or estimate.dim() != 4:
        raise ValueError("expected two N x C x H x W tensors of one shape, "
                         "got %s and %s" % (tuple(estimate.shape),
                                            tuple(reference.shape)))
    return (estimate.double().clamp(0.0, 1.0),
            reference.double().clamp(0.0, 1.0))


def mse(estimate: Tensor, reference: Tensor) -> Tensor:
    estimate, reference = _prepare(estimate, reference)
    return ((estimate - reference) ** 2).mean(dim=(1, 2, 3))


def psnr(estimate: Tensor, reference: Tensor) -> Tensor:
    """10 log10(1 / MSE); +inf for identical images."""
    return -10.0 * torch.log10(mse(estimate, reference))


def mae(estimate: Tensor, reference: Tensor) -> Tensor:
    estimate, reference = _prepare(estimate, reference)
    return (estimate - reference).abs().mean(dim=(1, 2, 3))


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA,
                    dtype=torch.float64) -> Tensor:
    """The normalised 1-D Gaussian; the 2-D window is its outer product."""
    axis = torch.arange(size, dtype=dtype) - (size - 1) / 2
    profile = torch.exp(-axis ** 2 / (2 * sigma ** 2))
    return profile / profile.sum()


def _filter_valid(x: Tensor, profile: Tensor, dim: int) -> Tensor:
    """Correlate along dim with a 1-D profile, valid positions only, as a
    sum of shifted slices (much faster than a grouped float64 conv2d)."""
    length = x.shape[dim] - profile.numel() + 1
    return sum(weight * x.narrow(dim, offset, length)
               for offset, weight in enumerate(profile.tolist()))


def ssim(estimate: Tensor, reference: Tensor) -> Tensor:
    """Mean SSIM over the valid (unpadded) window positions of every
    channel. The Gaussian window is applied as two 1-D passes."""
    estimate, reference = _prepare(estimate, reference)
    profile = gaussian_window()

    def blur(x):
        return _filter_valid(_filter_valid(x, profile, 3), profile, 2)

    mu_x, mu_y = blur(estimate), blur(reference)
    var_x = blur(estimate * estimate) - mu_x ** 2
    var_y = blur(reference * reference) - mu_y ** 2
    cov = blur(estimate * reference) - mu_x * mu_y
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2
    index = (((2 * mu_x * mu_y + c1) * (2 * cov + c2))
             / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2)))
    return index.mean(dim=(1, 2, 3))
