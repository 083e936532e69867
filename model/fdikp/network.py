"""The scale-recurrent FDIKP network (Sec. 3.1 of arXiv 2508.12736).

Stages run coarse to fine over an image pyramid. At every stage s the SAME
FIKP, DSRM and output convolution are applied (Eq. 1-2):

    F   = cat[FIKP(x_s), FIKP(prev_s)]            36 x h x w
    C   = DSRM(x_s, state)                        12 x h x w
    y_s = Conv1x1(F * C')                          3 x h x w

where prev_s is x_s at the first stage and the previous output upsampled
x2 otherwise, and C' repeats each 6-channel half of C once per colour (one
coefficient per kernel, shared by R, G and B). Because nothing is
stage-specific, the number of stages is an argument of forward().
"""

from dataclasses import dataclass
from typing import Dict, List, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .contract import LIMITS
from .dsrm import DSRM
from .fikp import FIKP, NUM_KERNELS
from .layers import ONEDNN_BLOCK, SizesConfig

BASE_MULTIPLE = 4  # the DSRM downsamples twice
# The engine's limits (engine/option_limits.h): the most stages a network
# runs, and the stages FDIKP is trained with and runs by default.
MAX_STAGES = LIMITS["FDIKP_STAGES_MAX"]
TRAINED_STAGES = LIMITS["FDIKP_TRAINED_STAGES"]


@dataclass(frozen=True)
class NetworkConfig(SizesConfig):
    """The sizes of one FDIKP network; every part of the architecture is
    there whatever the sizes. Travels with the weights (checkpoints and
    the exported file's fdikp.json)."""

    name: str = "fdikp"
    width: int = 64              # encoder/decoder channels
    bottleneck: int = 160        # DDM channels
    heads: int = 4               # strip attention heads
    strip_blocks: int = 3        # (intra, inter) strip attention pairs
    encoder_blocks: Tuple[int, int] = (3, 3)   # Res blocks per level
    decoder_blocks: Tuple[int, int] = (4, 3)   # coarse level first
    predictor_width: int = 128   # DIKP predictors' 11 x 11 conv channels
    predictor_pool: int = 1      # spectrum averaged p x p before it
    identity_start: bool = True  # y_s = x_s + Conv1x1(F * C'), conv at 0
    # Keep the input's tone: the finest output's difference from the input
    # loses what it has coarser than a Gaussian of this sigma, in pixels
    # (keep_tone); 0 leaves the output as the stages make it.
    tone_sigma: float = 0.0

    def __post_init__(self):
        # Widths that leave oneDNN's 16-channel blocks partly empty meet
        # the platform bug of layers.BlockAlignedConv2d in plain convs.
        # Strided convolutions (the encoder's down1) also need more than 32
        # input channels to be a multiple of 32 (layers.BlockAlignedConv2d).
        half = self.bottleneck // 2
        if (self.width % ONEDNN_BLOCK
                or (self.width > 2 * ONEDNN_BLOCK
                    and self.width % (2 * ONEDNN_BLOCK))
                or self.bottleneck % (2 * ONEDNN_BLOCK)
                or half % self.heads
                or not self.tone_sigma >= 0.0):
            raise ValueError("width must be 16, 32 or a multiple of 32, "
                             "bottleneck a multiple of 32, half the "
                             "bottleneck a multiple of heads and tone_sigma "
                             ">= 0: %r" % (self,))
        object.__setattr__(self, "tone_sigma", float(self.tone_sigma))
        # Lists from JSON become tuples again.
        object.__setattr__(self, "encoder_blocks",
                           tuple(int(n) for n in self.encoder_blocks))
        object.__setattr__(self, "decoder_blocks",
                           tuple(int(n) for n in self.decoder_blocks))


# The named configurations. "fdikp" is the paper's size (5.67 M
# parameters); "fdikp-s" keeps every part (DIKP, PAC, DSRM with DDM and
# APU, the scale recurrence, run-time stages) at a fraction of the cost,
# chosen by measurement (docs/model/architecture.md, "Two sizes").
CONFIGS: Dict[str, NetworkConfig] = {
    "fdikp": NetworkConfig(),
    "fdikp-s": NetworkConfig(name="fdikp-s", width=32, bottleneck=64,
                             strip_blocks=1, encoder_blocks=(1, 1),
                             decoder_blocks=(1, 1), predictor_width=32,
                             predictor_pool=2),
    # fdikp-s with the paper's three strip-attention pairs (the DDM's
    # global operators): fdikp.grow starts it from trained fdikp-s weights.
    "fdikp-s3": NetworkConfig(name="fdikp-s3", width=32, bottleneck=64,
                              strip_blocks=3, encoder_blocks=(1, 1),
                              decoder_blocks=(1, 1), predictor_width=32,
                              predictor_pool=2),
}


def network_config(name_or_config: Union[str, Dict, NetworkConfig, None]
                   ) -> NetworkConfig:
    """A configuration from its name, a dict (as stored with weights) or
    itself; None is the paper's size."""
    if name_or_config is None:
        return CONFIGS["fdikp"]
    if isinstance(name_or_config, NetworkConfig):
        return name_or_config
    if isinstance(name_or_config, dict):
        return NetworkConfig.from_dict(name_or_config)
    if name_or_config not in CONFIGS:
        raise ValueError("unknown network configuration %r (known: %s)"
                         % (name_or_config, ", ".join(CONFIGS)))
    return CONFIGS[name_or_config]


def size_multiple(stages: int, base: int = BASE_MULTIPLE) -> int:
    """Image sides must be multiples of this for `stages` stages."""
    return base << (stages - 1)  # base * 2^(S-1), kept an int


def down2(x: Tensor) -> Tensor:
    """Pyramid step: x2 bilinear downsampling with align_corners=False.

    On even sides that is exactly the mean of each 2x2 block, computed
    here as such. Use it for the ground-truth pyramid too.
    """
    return F.avg_pool2d(x, 2)


def pyramid(x: Tensor, stages: int) -> List[Tensor]:
    """[x_{1/2^(S-1)}, ..., x_{1/2}, x], coarse to fine."""
    levels = [x]
    for _ in range(stages - 1):
        levels.insert(0, down2(levels[0]))
    return levels


def resize(x: Tensor, height: int, width: int) -> Tensor:
    """Bilinear resize (align_corners=False) to height x width."""
    return F.interpolate(x, size=[height, width], mode="bilinear",
                         align_corners=False)


def gaussian_kernel(sigma: float, radius: int, like: Tensor) -> Tensor:
    """The normalised 1-D Gaussian of `sigma` over -radius..radius, in
    like's dtype and on its device."""
    taps = torch.arange(-radius, radius + 1, dtype=like.dtype,
                        device=like.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    return kernel / kernel.sum()


def separable_blur(x: Tensor, kernel: Tensor, width_mode: str,
                   height_mode: str) -> Tensor:
    """x (N x C x H x W) convolved with the odd 1-D kernel along the width,
    then the height, each channel alone; the edges of each axis padded with
    its mode (as F.pad takes it), so the size stays."""
    radius = (kernel.shape[0] - 1) // 2
    channels = x.shape[1]
    x = F.conv2d(F.pad(x, [radius, radius, 0, 0], mode=width_mode),
                 kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1),
                 groups=channels)
    return F.conv2d(F.pad(x, [0, 0, radius, radius], mode=height_mode),
                    kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1),
                    groups=channels)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """A Gaussian blur of standard deviation `sigma` pixels for smooth
    fields (sigma of 8 or more): averaged over blocks of about sigma / 4,
    blurred there separably (edges repeated), brought back bilinearly. The
    result is a few percent of a pixel's sigma off an exact Gaussian, at a
    tiny fraction of its cost; any image size works."""
    height, width = x.shape[2], x.shape[3]
    factor = max(1, int(sigma / 4.0))
    # Whole blocks: the bottom and right edges repeated up to a multiple.
    x = F.pad(x, [0, (-width) % factor, 0, (-height) % factor],
              mode="replicate")
    small = F.avg_pool2d(x, factor)
    # Block averaging already spread the field by factor^2 / 12 (variance).
    rest = max(sigma * sigma - factor * factor / 12.0, 1e-6) ** 0.5 / factor
    small = separable_blur(
        small, gaussian_kernel(rest, int(3.0 * rest + 0.5), small),
        "replicate", "replicate")
    if factor > 1:
        small = resize(small, x.shape[2], x.shape[3])
    return small[:, :, :height, :width]


def keep_tone(restored: Tensor, image: Tensor, sigma: float) -> Tensor:
    """restored + G_sigma * (image - restored): the restored image keeps
    the input's content coarser than the Gaussian (its tone, brightness and
    colour over regions of several sigma) and its own finer detail. Defocus
    blur keeps the mean of every region much larger than itself, so
    sharpening should too; a network trained on synthetic pairs whose
    blurred side came out brighter (blur in linear light, clipped
    highlights) learns to darken, which real photos do not want
    (docs/training/training-details.md, "Keeping the input's tone")."""
    return restored + gaussian_blur(image - restored, sigma)


def _pad_side(x: Tensor, dim: int, amount: int) -> Tensor:
    """Pad the end of spatial dim (2 = height, 3 = width) by amount."""
    if amount == 0:
        return x
    pads = [0, amount, 0, 0] if dim == 3 else [0, 0, 0, amount]
    # Reflection needs a side longer than the pad; a tiny side (a 1-pixel
    # line, a 1 x 1 image) is repeated instead.
    mode = "reflect" if amount < x.shape[dim] else "replicate"
    return F.pad(x, pads, mode=mode)


def pad_to_multiple(x: Tensor, multiple: int) -> Tuple[Tensor, int, int]:
    """Pad the bottom and right of N x C x H x W so that both sides are
    multiples of `multiple`; returns (padded, H, W) for crop()."""
    height, width = x.shape[2], x.shape[3]
    x = _pad_side(x, 2, (-height) % multiple)
    x = _pad_side(x, 3, (-width) % multiple)
    return x, height, width


def crop(x: Tensor, height: int, width: int) -> Tensor:
    """Undo pad_to_multiple: the top-left height x width."""
    return x[:, :, :height, :width]


class FDIKP(nn.Module):
    """Frequency-driven inverse kernel prediction network.

    net(x, stages=3): x is N x 3 x H x W in [0, 1] with H and W multiples
    of FDIKP.size_multiple(stages). In training mode it returns every
    stage's output, coarse to fine (the last at full resolution), for the
    multi-scale loss; in eval mode only the finest. Outputs are not
    clamped: the loss sees the raw values, the exported model clamps.
    """

    size_multiple = staticmethod(size_multiple)
    __jit_ignored_attributes__ = ["config"]

    def __init__(self, config: Union[str, Dict, NetworkConfig, None] = None):
        super().__init__()
        config = network_config(config)
        self.config = config
        self.max_stages = MAX_STAGES
        self.residual = config.identity_start
        self.tone_sigma = config.tone_sigma
        self.fikp = FIKP(predictor_width=config.predictor_width,
                         predictor_pool=config.predictor_pool)
        self.dsrm = DSRM(config.width, config.bottleneck, config.heads,
                         config.strip_blocks, config.encoder_blocks,
                         config.decoder_blocks)
        self.out_conv = nn.Conv2d(2 * 3 * (NUM_KERNELS + 1), 3, 1)
        if config.identity_start:
            # Start from the identity: the stage returns its input until
            # training moves the output convolution off zero (our choice;
            # the paper says nothing of initialisation).
            nn.init.zeros_(self.out_conv.weight)
            nn.init.zeros_(self.out_conv.bias)

    def stage(self, x: Tensor, prev: Tensor,
              state: Tuple[Tensor, Tensor],
              first: bool = False) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        """One scale: y_s = [x_s +] Conv1x1(cat[FIKP(x), FIKP(prev)] * C').

        At the first stage prev is x itself: FIKP runs once."""
        current = self.fikp(x)
        former = current if first else self.fikp(prev)
        features = torch.cat([current, former], dim=1)
        coefficients, state = self.dsrm(x, state)
        # Channels of a FIKP output are colour-major (c * (N+1) + n) and C
        # holds N+1 coefficients per half, so split the channels as (half,
        # colour, n) and let the coefficients broadcast over the colours:
        # C' without copying C three times.
        batch, height, width = x.shape[0], x.shape[2], x.shape[3]
        per_half = coefficients.shape[1] // 2
        weighted = (features.view(batch, 2, 3, per_half, height, width)
                    * coefficients.view(batch, 2, 1, per_half, height, width))
        y = self.out_conv(weighted.reshape(batch, 6 * per_half, height, width))
        if self.residual:
            y = y + x
        return y, state

    def stage_outputs(self, x: Tensor, stages: int) -> List[Tensor]:
        """Every stage's output, coarse to fine."""
        if stages < 1 or stages > self.max_stages:
            raise ValueError("stages must be 1.." + str(self.max_stages)
                             + ", got " + str(stages))
        multiple = size_multiple(stages)
        if x.shape[2] % multiple != 0 or x.shape[3] % multiple != 0:
            raise ValueError("image sides must be multiples of "
                             + str(multiple) + " for " + str(stages)
                             + " stages; pad with pad_to_multiple()")
        levels = pyramid(x, stages)
        state = self.dsrm.initial_state(levels[0])
        prev = levels[0]
        outputs: List[Tensor] = []
        for index, level in enumerate(levels):
            if index > 0:
                height, width = level.shape[2], level.shape[3]
                prev = resize(outputs[-1], height, width)
                # The APU state lives at half the stage's resolution.
                state = (resize(state[0], height // 2, width // 2),
                         resize(state[1], height // 2, width // 2))
            y, state = self.stage(level, prev, state, index == 0)
            outputs.append(y)
        if self.tone_sigma > 0.0:
            outputs[-1] = keep_tone(outputs[-1], x, self.tone_sigma)
        return outputs

    @torch.jit.unused
    def forward(self, x: Tensor, stages: int = TRAINED_STAGES):
        """List of stage outputs in training mode, the finest in eval."""
        outputs = self.stage_outputs(x, stages)
        return outputs if self.training else outputs[-1]
