"""The training losses (fdikp.train), by the paper's recipe.

Per scale: MSE + 0.2 * mean|FFT(y_hat) - FFT(y)| (+ 0.2 * LPIPS with a
local LPIPS weights file). Scales weighted 1 / 0.2 / 0.1, finest first.
--loss mse pools this over the batch (multiscale_loss); --loss psnr takes
each image's gain in dB over its blurry input (gain_loss).
"""

from typing import List, Optional, Sequence

import torch
from torch import Tensor, nn

from .network import down2

SCALE_WEIGHTS = (1.0, 0.2, 0.1)  # finest scale first
FREQUENCY_WEIGHT = 0.2
LPIPS_WEIGHT = 0.2
# gain_loss: per-image losses below this count as this (about 50 dB).
GAIN_LOSS_FLOOR = 1e-5


def frequency_l1(estimate: Tensor, target: Tensor) -> Tensor:
    """mean |FFT(y_hat) - FFT(y)|, complex modulus, in float32. Orthonormal
    FFT (our choice): the term does not grow with the crop size, so the
    weights 0.2 and 1 / 0.2 / 0.1 mean the same at every scale and crop."""
    return per_image_frequency_l1(estimate, target).mean()


def per_image_frequency_l1(estimate: Tensor, target: Tensor) -> Tensor:
    """frequency_l1 of each image of the batch (N values)."""
    difference = torch.fft.fft2(estimate.float() - target.float(),
                                norm="ortho")
    return difference.abs().mean(dim=(1, 2, 3))


def per_image_loss(estimate: Tensor, target: Tensor,
                   lpips: Optional[nn.Module] = None) -> Tensor:
    """MSE + 0.2 FFT-L1 (+ 0.2 LPIPS) of each image of the batch."""
    estimate, target = estimate.float(), target.float()
    loss = ((estimate - target) ** 2).mean(dim=(1, 2, 3)) \
        + FREQUENCY_WEIGHT * per_image_frequency_l1(estimate, target)
    if lpips is not None:
        loss = loss + LPIPS_WEIGHT * lpips(estimate, target).reshape(-1)
    return loss


def scale_loss(estimate: Tensor, target: Tensor,
               lpips: Optional[nn.Module] = None) -> Tensor:
    """per_image_loss averaged over the batch (the batch's pooled loss:
    every image has the same size)."""
    return per_image_loss(estimate, target, lpips).mean()


class Pyramid:
    """An image and its halvings (down2), each computed once: the target or
    the input at every output's scale."""

    def __init__(self, image: Tensor):
        self.levels = [image]

    def like(self, other: Tensor) -> Tensor:
        """The level with `other`'s size."""
        while self.levels[-1].shape[2] > other.shape[2]:
            self.levels.append(down2(self.levels[-1]))
        for level in self.levels:
            if level.shape[2:] == other.shape[2:]:
                return level
        raise ValueError("an output of %s is no power-of-2 scale of the "
                         "image's %s" % (tuple(other.shape[2:]),
                                         tuple(self.levels[0].shape[2:])))


def _scales(outputs: Sequence[Tensor], sharp: Tensor):
    """(w, y, target) of every output: target = sharp at y's scale k
    (y's side is sharp's / 2^k), w = SCALE_WEIGHTS[k]. FDIKP gives one
    output per scale; DeepRFTv2's all_outputs several at each of two (each
    halving of sharp is computed once)."""
    targets = Pyramid(sharp)
    for estimate in outputs:
        target = targets.like(estimate)
        k = (sharp.shape[2] // target.shape[2]).bit_length() - 1
        yield SCALE_WEIGHTS[min(k, len(SCALE_WEIGHTS) - 1)], estimate, target


def multiscale_loss(outputs: Sequence[Tensor], sharp: Tensor,
                    lpips: Optional[nn.Module] = None) -> Tensor:
    """sum over outputs of w_k L(y, down^k(sharp)), k each output's scale
    (weights 1 / 0.2 / 0.1, finest first)."""
    total = sharp.new_zeros((), dtype=torch.float32)
    for weight, estimate, target in _scales(outputs, sharp):
        total = total + weight * scale_loss(estimate, target, lpips)
    return total


def gain_loss(outputs: Sequence[Tensor], blurry: Tensor, sharp: Tensor,
              lpips: Optional[nn.Module] = None) -> Tensor:
    """The "psnr" loss: minus the model's gain over its blurry input in
    dB, per image, averaged over the batch and (weighted as
    multiscale_loss) over the outputs:
        sum_y w_k mean_i 10 log10((L_i(y) + f) / (L_i(x_k) + f)) / sum_y w_k
    with L the per-image loss, x_k the blurry input at y's scale and
    f = GAIN_LOSS_FLOOR. Zero for the identity, negative where the model
    helps. Unlike the pooled loss, whose batch mean is ruled by the most
    blurred images, an image that is already nearly sharp weighs as much
    as any other: a change that costs it 5 dB costs the loss as much as it
    does the mean PSNR (the pooled MSE run sharpened heavy blur by
    +0.1-0.3 dB while costing sharp crops 1-14 dB, see model/README.md)."""
    total = sharp.new_zeros((), dtype=torch.float32)
    weights = 0.0
    inputs = Pyramid(blurry)
    for weight, estimate, target in _scales(outputs, sharp):
        with torch.no_grad():
            reference = per_image_loss(inputs.like(estimate), target,
                                       lpips)
        mine = per_image_loss(estimate, target, lpips)
        total = total + weight * (10.0 * torch.log10(
            (mine + GAIN_LOSS_FLOOR) / (reference + GAIN_LOSS_FLOOR))).mean()
        weights += weight
    return total / weights


class LPIPS(nn.Module):
    """LPIPS (Zhang et al. 2018) with the AlexNet trunk, from ONE local file
    holding {'features.<i>.weight|bias': AlexNet conv weights,
    'lin<k>.weight': 1 x C x 1 x 1}. Inputs in [0, 1]."""

    CHANNELS = (64, 192, 384, 256, 256)

    def __init__(self, weights_file: str):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU())
        self.taps = (1, 4, 7, 9, 11)
        for k, channels in enumerate(self.CHANNELS):
            self.register_buffer("lin%d" % k, torch.zeros(1, channels, 1, 1))
        self.register_buffer("shift", torch.tensor(
            [-0.030, -0.088, -0.188])[None, :, None, None])
        self.register_buffer("scale", torch.tensor(
            [0.458, 0.448, 0.450])[None, :, None, None])
        state = torch.load(weights_file, map_location="cpu", weights_only=True)
        self.load_state_dict(state, strict=False)
        missing = [k for k in self.state_dict() if k not in state
                   and k not in ("shift", "scale")]
        if missing:
            raise ValueError("LPIPS weights file lacks " + ", ".join(missing))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        x = ((2 * x - 1) - self.shift) / self.scale
        y = ((2 * y - 1) - self.shift) / self.scale
        total = x.new_zeros(x.shape[0])
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i in self.taps:
                k = self.taps.index(i)
                nx = x / (x.norm(dim=1, keepdim=True) + 1e-10)
                ny = y / (y.norm(dim=1, keepdim=True) + 1e-10)
                weighted = (getattr(self, "lin%d" % k) * (nx - ny) ** 2)
                total = total + weighted.sum(1).mean(dim=(1, 2))
        return total


def supervised_outputs(net: nn.Module, x: Tensor, stages: int
                       ) -> List[Tensor]:
    """What the loss supervises: DeepRFTv2's every image (each column's
    plain and FKE output at both scales, as its authors train it), FDIKP's
    every stage output."""
    if hasattr(net, "all_outputs"):
        return net.all_outputs(x)
    return net(x, stages)


def finite_gradients(net: nn.Module) -> bool:
    """Whether every gradient of net's parameters is finite (the trainers
    skip a batch where one is not: fdikp.train, fdikp.defocus_head)."""
    return all(bool(torch.isfinite(p.grad).all()) for p in net.parameters()
               if p.grad is not None)
