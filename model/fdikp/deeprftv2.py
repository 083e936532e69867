"""DeepRFTv2: kernel-level learning for image deblurring, our reading.

Mao, Song, Liu, Li, Wang, "DeepRFTv2: Kernel-level Learning for Image
Deblurring" (arXiv 2511.21132). The network is written here from the paper
and from the structure of the authors' defocus configuration
(Defocus/Options/DeepRFTv2-150k-8gpu.yml of INVOKERer/DeepRFTv2, commit
512587b); no code is taken from it. Every block's docstring names the part
of the paper it implements; every choice the paper leaves open is a comment
marked "Choice:" (docs/model/architecture.md, "DeepRFTv2 (second architecture)",
lists them all).

Shape of the network (the defocus configuration):

    x_1 = x (full resolution), x_2 = down2(x) (half resolution)
    for every column j = 1..J (J = 2, "num_global_unet"):
        full-scale sub-U-Net:  encoder E_1^j on embed(x_1) [+ FKE features of
                               column j-1]
        half-scale sub-U-Net:  encoder E_2^j on embed(x_2) [+ ...], each level
                               fused with the full-scale encoder's level
                               (Fuse_in_Encoder), decoder D_2^j,
                               y = head(D_2^j) + x_2, FKE_2^j
        the half scale's FKE features go down into the full scale's latent
                               (DownSample2latent), decoder D_1^j,
                               y = head(D_1^j) + x_1, FKE_1^j
    every encoder, decoder and FKE sub-network level is a reversible
    coupling with the same level of column j-1:  c^j = alpha (.) c^(j-1) + F(.)

The output is FKE_1^J's image. Everything is plain PyTorch (no Mamba, no
custom kernels), runs on the CPU, and scripts with torch.jit.script +
torch.jit.freeze through fdikp.export's DeblurModel.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import ONEDNN_BLOCK, BlockAlignedConv2d, SizesConfig

ARCHITECTURE = "DeepRFTv2"
# Three levels in each sub-U-Net, and the half-scale sub-U-Net starts at
# half resolution: its latent is at 1/8 of the input.
BASE_MULTIPLE = 8
MAX_STAGES = 1
# The smallest |alpha| of a reversible coupling (the official code clamps
# its alphas to the same bound): c^(j-1) = (c^j - F) / alpha stays defined.
MIN_ALPHA = 1e-3


@dataclass(frozen=True)
class DeepRFTv2Config(SizesConfig):
    """The sizes of one DeepRFTv2 network; every part is there whatever the
    sizes. Travels with the weights (checkpoints and fdikp.json), with an
    `architecture` key that tells it from an FDIKP configuration."""

    name: str = "deeprftv2"
    width: int = 48                 # level-1 channels c; levels are c, 2c, 4c
    encoder_blocks: Tuple[int, int, int] = (1, 4, 8)   # NAF blocks, fine first
    decoder_blocks: Tuple[int, int, int] = (8, 4, 1)   # coarse level first
    columns: int = 2                # stacked multi-scale U-Nets
    kernel_width: int = 48          # channels of the FKE's spectral sub-ResNet
    kernel_blocks: Tuple[int, ...] = (1, 1, 1, 1)     # its levels' blocks
    identity_start: bool = True     # zero output heads: untrained net = input

    def __post_init__(self):
        # Lists from JSON become tuples again.
        for key in ("encoder_blocks", "decoder_blocks", "kernel_blocks"):
            object.__setattr__(self, key,
                               tuple(int(n) for n in getattr(self, key)))
        # Widths that leave oneDNN's 16-channel blocks partly empty meet the
        # platform bug of layers.BlockAlignedConv2d in the plain k x k convs.
        if self.width % ONEDNN_BLOCK or self.kernel_width % ONEDNN_BLOCK:
            raise ValueError("width and kernel_width must be multiples of "
                             "16: %r" % (self,))
        if (len(self.encoder_blocks) != 3 or len(self.decoder_blocks) != 3
                or not self.kernel_blocks or self.columns < 1
                or min(self.encoder_blocks + self.decoder_blocks
                       + self.kernel_blocks) < 0):
            raise ValueError("3 encoder and 3 decoder levels, >= 1 kernel "
                             "level, >= 1 column, no negative block count: "
                             "%r" % (self,))

    def to_dict(self) -> Dict[str, Union[str, int, bool, List[int]]]:
        return {**super().to_dict(), "architecture": ARCHITECTURE}

    @classmethod
    def from_dict(cls, values: Dict) -> "DeepRFTv2Config":
        values = dict(values)
        architecture = values.pop("architecture", ARCHITECTURE)
        if architecture != ARCHITECTURE:
            raise ValueError("not a DeepRFTv2 configuration: architecture "
                             + repr(architecture))
        return super().from_dict(values)


# The named configurations. "deeprftv2" is the size of the authors' defocus
# option file (widths 48/96/192, NAF blocks 1-4-8 / 8-4-1 per sub-U-Net, two
# columns, two scales, a 4-level FKE sub-network of width 48): 21,180,600
# parameters. "deeprftv2-s" keeps every part (two columns, both scales,
# reversible couplings, FKE at each scale) with widths 16/32/64 and blocks
# 1-2-2 / 2-2-1: 869,624 parameters, 4.1 % of that.
CONFIGS: Dict[str, DeepRFTv2Config] = {
    "deeprftv2": DeepRFTv2Config(),
    "deeprftv2-s": DeepRFTv2Config(name="deeprftv2-s", width=16,
                                   encoder_blocks=(1, 2, 2),
                                   decoder_blocks=(2, 2, 1),
                                   kernel_width=16),
}


def deeprftv2_config(name_or_config: Union[str, Dict, DeepRFTv2Config, None]
                     ) -> DeepRFTv2Config:
    """A configuration from its name, a dict (as stored with weights) or
    itself; None is the defocus configuration's size."""
    if name_or_config is None:
        return CONFIGS["deeprftv2"]
    if isinstance(name_or_config, DeepRFTv2Config):
        return name_or_config
    if isinstance(name_or_config, dict):
        return DeepRFTv2Config.from_dict(name_or_config)
    if name_or_config not in CONFIGS:
        raise ValueError("unknown DeepRFTv2 configuration %r (known: %s)"
                         % (name_or_config, ", ".join(CONFIGS)))
    return CONFIGS[name_or_config]


def size_multiple(stages: int = 1) -> int:
    """Image sides must be multiples of this; DeepRFTv2 has one stage."""
    if stages != 1:
        raise ValueError("DeepRFTv2 has a single stage, got " + str(stages))
    return BASE_MULTIPLE


def down2(x: Tensor) -> Tensor:
    """The image pyramid step, 2 x 2 mean (fdikp.network.down2).

    Choice: the official code builds its pyramid with kornia's pyrDown
    (Gaussian 5 x 5, then halving); we use the 2 x 2 mean that FDIKP and the
    ground-truth pyramid of our training use, so that the half-scale output
    is compared with the same operator that made its input."""
    return F.avg_pool2d(x, 2)


def invertible_scale(alpha: Tensor, bound: float = MIN_ALPHA) -> Tensor:
    """alpha with |alpha| >= MIN_ALPHA, keeping its sign.

    Choice: the official code clamps the parameter in place before every
    forward pass; an in-place change of a parameter does not script or
    freeze, so the bound is applied to the value used instead (same result,
    and the coupling stays invertible). The bound arrives as a default
    argument: TorchScript cannot read a module-level float."""
    return torch.where(alpha < 0, alpha.clamp(max=-bound),
                       alpha.clamp(min=bound))


def couple(update: Tensor, alpha: Optional[Tensor],
           previous: Optional[Tensor]) -> Tensor:
    """The reversible coupling of DeepRFTv2's sub-units (RevCol's):
    c^j = alpha (.) c^(j-1) + update, where update does not depend on
    c^(j-1), so c^(j-1) = (c^j - update) / alpha is recovered from the
    output. The first column has no c^(j-1) (and no alpha)."""
    if alpha is None or previous is None:
        return update
    return invertible_scale(alpha) * previous + update


def uncouple(current: Tensor, update: Tensor, alpha: Tensor) -> Tensor:
    """Inverse of couple(): the previous column's state."""
    return (current - update) / invertible_scale(alpha)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of each pixel (NAFNet's LayerNorm2d,
    eps 1e-6). F.layer_norm runs in float32 under autocast."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), [self.channels], self.weight,
                         self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class NAFBlock(nn.Module):
    """The base block of every DeepRFTv2 sub-network: NAFNet's block
    (Chen et al., ECCV 2022), 'naf' / 'localnaf' in the official options.

        x = x + beta  (.) Conv1x1(SCA(SG(DWConv3x3(Conv1x1(LN(x))))))
        x = x + gamma (.) Conv1x1(SG(Conv1x1(LN(x))))

    SG(a | b) = a * b (SimpleGate on the two channel halves), SCA(z) =
    z * Conv1x1(mean_hw(z)) (simplified channel attention); beta and gamma
    start at zero (NAFNet's initialisation), so a new block is the identity.

    Choice: 'localnaf' pools the channel attention over 1.5 x the training
    crop (480 px at full resolution) at test time (TLC); we pool globally.
    Both agree on inputs up to 480 px, i.e. on every tile the engine runs
    (320 px by default); a whole larger image in one piece differs.
    """

    def __init__(self, channels: int, expand: int = 2):
        super().__init__()
        hidden = expand * channels
        self.norm1 = LayerNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, hidden, 1)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.attention = nn.Conv2d(hidden // 2, hidden // 2, 1)
        self.conv3 = nn.Conv2d(hidden // 2, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.conv4 = nn.Conv2d(channels, hidden, 1)
        self.conv5 = nn.Conv2d(hidden // 2, channels, 1)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.conv2(self.conv1(self.norm1(x))).chunk(2, dim=1)
        z = a * b
        z = z * self.attention(z.mean(dim=[2, 3], keepdim=True))
        x = x + self.conv3(z) * self.beta
        a, b = self.conv4(self.norm2(x)).chunk(2, dim=1)
        return x + self.conv5(a * b) * self.gamma


def naf_stack(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*[NAFBlock(channels) for _ in range(count)])


def down_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """Halving: Conv2x2, stride 2, no bias (the option file's
    downsample_mode / fuse_downsample_mode 'conv'). Block-aligned: on this
    platform a strided conv's input gradient is wrong for 48 input channels
    (layers.BlockAlignedConv2d pads them to 64)."""
    return BlockAlignedConv2d(in_channels, out_channels, 2, stride=2,
                              bias=False)


class UpSample(nn.Module):
    """Doubling: Conv1x1(c -> 4 c_out), no bias, then PixelShuffle(2) (the
    option file's upsample_mode 'conv1x1_shuffle')."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 4 * out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(self.conv(x), 2)


def alpha_parameter(channels: int, first: bool) -> Optional[nn.Parameter]:
    """A coupling's alpha, 0.5 at the start (the official initial value);
    the first column has no previous state and no alpha."""
    if first:
        return None
    return nn.Parameter(torch.full((1, channels, 1, 1), 0.5))


class EncoderLevel(nn.Module):
    """One encoder level of a sub-U-Net: [Down2] -> [cross-scale fusion]
    -> NAF blocks; its output is coupled with the same level of the previous
    column (reversible sub-unit)."""

    def __init__(self, in_channels: int, channels: int, blocks: int,
                 down: bool, cross: bool, first: bool):
        super().__init__()
        self.down = down_conv(in_channels, channels) if down else None
        # Fuse_in_Encoder with downsample 'concat': the finer scale's feature
        # of the same level is concatenated and mixed by a 1 x 1 conv.
        self.cross = nn.Conv2d(2 * channels, channels, 1) if cross else None
        self.blocks = naf_stack(channels, blocks)
        self.alpha = alpha_parameter(channels, first)

    def update(self, x: Tensor, cross: Optional[Tensor]) -> Tensor:
        if self.down is not None:
            x = self.down(x)
        if self.cross is not None and cross is not None:
            x = self.cross(torch.cat([x, cross], dim=1))
        return self.blocks(x)

    def forward(self, x: Tensor, previous: Optional[Tensor],
                cross: Optional[Tensor]) -> Tensor:
        return couple(self.update(x, cross), self.alpha, previous)


class ReversibleEncoder(nn.Module):
    """The encoder half of one sub-U-Net of the DMS-UNet, as a reversible
    sub-unit (the paper's "reversible strategy"; RevCol-style columns):

        e_0 = alpha_0 (.) s_0 + B_0(x [, u_0])
        e_l = alpha_l (.) s_l + B_l(Down(e_(l-1)) [, u_l]),   l = 1, 2

    s_l: the previous column's state of level l; u_l: the finer scale's
    encoder feature of level l, halved (half scale only).

    Reversibility: F_l never sees s_l, so s_l = (e_l - F_l) / alpha_l is
    recomputed from the outputs (reconstruct()); a backward pass could drop
    the activations and rebuild them that way (the official code does, with
    a custom autograd Function). Not done here: such a Function does not
    script, and a training-only path was not needed yet. The forward
    coupling is exact; the memory saving in training is NOT implemented.
    """

    def __init__(self, width: int, blocks: Tuple[int, int, int],
                 cross: bool, first: bool):
        super().__init__()
        self.level0 = EncoderLevel(width, width, blocks[0], False, cross,
                                   first)
        self.level1 = EncoderLevel(width, 2 * width, blocks[1], True, cross,
                                   first)
        self.level2 = EncoderLevel(2 * width, 4 * width, blocks[2], True,
                                   cross, first)

    def forward(self, x: Tensor, previous: List[Tensor],
                cross: List[Tensor]) -> List[Tensor]:
        s0: Optional[Tensor] = None
        s1: Optional[Tensor] = None
        s2: Optional[Tensor] = None
        if len(previous) == 3:
            s0, s1, s2 = previous[0], previous[1], previous[2]
        u0: Optional[Tensor] = None
        u1: Optional[Tensor] = None
        u2: Optional[Tensor] = None
        if len(cross) == 3:
            u0, u1, u2 = cross[0], cross[1], cross[2]
        e0 = self.level0(x, s0, u0)
        e1 = self.level1(e0, s1, u1)
        e2 = self.level2(e1, s2, u2)
        return [e0, e1, e2]

    def reconstruct(self, x: Tensor, outputs: List[Tensor],
                    cross: List[Tensor]) -> List[Tensor]:
        """The previous column's states from this column's outputs (what a
        memory-saving backward pass would do). Python only, for tests."""
        us = cross if len(cross) == 3 else [None, None, None]
        inputs = [x, outputs[0], outputs[1]]
        levels = [self.level0, self.level1, self.level2]
        return [uncouple(outputs[i], levels[i].update(inputs[i], us[i]),
                         levels[i].alpha) for i in range(3)]


class DecoderLevel(nn.Module):
    """One decoder level of a sub-U-Net: NAF blocks -> [Up2]."""

    def __init__(self, channels: int, out_channels: int, blocks: int,
                 up: bool, alpha_channels: int, first: bool):
        super().__init__()
        self.blocks = naf_stack(channels, blocks)
        self.up = UpSample(channels, out_channels) if up else None
        self.alpha = alpha_parameter(alpha_channels, first)

    def update(self, x: Tensor) -> Tensor:
        x = self.blocks(x)
        if self.up is not None:
            x = self.up(x)
        return x

    def forward(self, x: Tensor, previous: Optional[Tensor]) -> Tensor:
        return couple(self.update(x), self.alpha, previous)


class ReversibleDecoder(nn.Module):
    """The decoder half of one sub-U-Net of the DMS-UNet, reversible:

        d_0 = alpha_0 (.) e_1 + Up(B_0(latent))      2c at 1/2
        d_1 = alpha_1 (.) e_0 + Up(B_1(d_0))         c  at 1
        d_2 = alpha_2 (.) t   + B_2(d_1)             c  at 1

    The skip connections ARE the couplings: the encoder features e_1, e_0
    are the "previous states" of the first two levels, scaled by alpha
    (learnt, not a plain sum); t is the previous column's d_2 (none in the
    first column). d_0, d_1 and the latent become the next column's
    encoder states s_1, s_0, s_2 (as in the official code).
    Memory-saving backward: see ReversibleEncoder (not implemented).
    """

    def __init__(self, width: int, blocks: Tuple[int, int, int],
                 first: bool):
        super().__init__()
        self.level0 = DecoderLevel(4 * width, 2 * width, blocks[0], True,
                                   2 * width, False)
        self.level1 = DecoderLevel(2 * width, width, blocks[1], True, width,
                                   False)
        self.level2 = DecoderLevel(width, width, blocks[2], False, width,
                                   first)

    def forward(self, latent: Tensor, e0: Tensor, e1: Tensor,
                previous: Optional[Tensor]) -> List[Tensor]:
        d0 = self.level0(latent, e1)
        d1 = self.level1(d0, e0)
        d2 = self.level2(d1, previous)
        return [d0, d1, d2]

    def reconstruct(self, latent: Tensor, outputs: List[Tensor]
                    ) -> List[Tensor]:
        """[e_0, e_1, t] from [d_0, d_1, d_2] (Python only, for tests)."""
        level2_alpha = self.level2.alpha
        assert level2_alpha is not None
        e1 = uncouple(outputs[0], self.level0.update(latent),
                      self.level0.alpha)
        e0 = uncouple(outputs[1], self.level1.update(outputs[0]),
                      self.level1.alpha)
        t = uncouple(outputs[2], self.level2.update(outputs[1]),
                     level2_alpha)
        return [e0, e1, t]


class KernelLevel(nn.Module):
    """One level of the FKE's reversible sub-ResNet (same resolution at
    every level): [Conv1x1(cat[h, k_(l+1)^(j-1)])] -> blocks, coupled with
    k_l^(j-1) (UniSimpleResEncoder4Level's level in the official code)."""

    def __init__(self, channels: int, blocks: int, fuse: bool, first: bool):
        super().__init__()
        self.fuse = (nn.Conv2d(2 * channels, channels, 1)
                     if fuse and not first else None)
        # Choice: the official option file uses EVSS blocks (a Mamba
        # selective scan) here; we use the NAF block of the rest of the
        # network: pure PyTorch, and a nonlinearity acting on the spectrum
        # all the same.
        self.blocks = naf_stack(channels, blocks)
        self.alpha = alpha_parameter(channels, first)

    def update(self, x: Tensor, upper: Optional[Tensor]) -> Tensor:
        if self.fuse is not None and upper is not None:
            x = self.fuse(torch.cat([x, upper], dim=1))
        return self.blocks(x)

    def forward(self, x: Tensor, previous: Optional[Tensor],
                upper: Optional[Tensor]) -> Tensor:
        return couple(self.update(x, upper), self.alpha, previous)


class ReversibleKernelNet(nn.Module):
    """R_theta of the FKE: a reversible sub-ResNet on the spectrum,

        k_0 = alpha_0 (.) k_0' + B_0(fuse(r, k_1'))
        k_l = alpha_l (.) k_l' + B_l(fuse(k_(l-1), k_(l+1)')),  l < L-1
        k_L-1 = alpha (.) k_L-1' + B_L-1(k_(L-2))

    primes: the previous column's states (RevCol's multi-level coupling:
    level l also reads level l+1 of the previous column, so the states are
    recovered top-down, reconstruct()). Memory-saving backward: see
    ReversibleEncoder (not implemented)."""

    def __init__(self, channels: int, blocks: Tuple[int, ...], first: bool):
        super().__init__()
        count = len(blocks)
        self.levels = nn.ModuleList([
            KernelLevel(channels, n, index + 1 < count, first)
            for index, n in enumerate(blocks)])

    def forward(self, x: Tensor, previous: List[Tensor]) -> List[Tensor]:
        out: List[Tensor] = []
        count = len(previous)
        h = x
        for index, level in enumerate(self.levels):
            own: Optional[Tensor] = None
            upper: Optional[Tensor] = None
            if count > 0:
                own = previous[index]
                if index + 1 < count:
                    upper = previous[index + 1]
            h = level(h, own, upper)
            out.append(h)
        return out

    def reconstruct(self, x: Tensor, outputs: List[Tensor]) -> List[Tensor]:
        """The previous column's states, top level first (Python only)."""
        levels = list(self.levels)
        inputs = [x] + outputs[:-1]
        states: List[Optional[Tensor]] = [None] * len(levels)
        for index in reversed(range(len(levels))):
            upper = states[index + 1] if index + 1 < len(levels) else None
            update = levels[index].update(inputs[index], upper)
            states[index] = uncouple(outputs[index], update,
                                     levels[index].alpha)
        return states


def spectrum_product(features: Tensor, otf: Tensor) -> Tensor:
    """F^-1(OTF (.) F(features)) in float32: the kernel applied to the
    features by multiplication in the frequency domain.

    rfft2/irfft2 with the default ("backward") normalisation, so that this
    is exactly the circular convolution of the features with the kernel
    k = irfft2(OTF), and OTF = 1 is the identity. otf: complex, shaped like
    rfft2(features)."""
    height, width = features.shape[-2], features.shape[-1]
    spectrum = torch.fft.rfft2(features.float())
    return torch.fft.irfft2(spectrum * otf, s=[height, width])


class FourierKernelEstimator(nn.Module):
    """FKE, the paper's Fourier Kernel Estimator (its Eq. for the blur
    pattern P = Conv(F^-1(R_theta(r_0) (.) r_0') (+) d)):

        a = Conv1x1(d), b = Conv1x1(d)              d: decoder output, c ch
        r = Conv1x1(cat[Re, Im](rfft2(a)))          the spectrum as features
        k = R_theta(r)                              reversible sub-ResNet,
                                                    nonlinear in Fourier space
        OTF = complex(split(Conv1x1(LN(k))))        c complex channels
        f = Conv1x1(cat[irfft2(OTF (.) rfft2(b)), d])
        y = Conv3x3(f) + x                          blur pattern + image

    The kernel is estimated in Fourier space without any kernel supervision
    (only the image losses reach it) and applied to FEATURES, not to the
    image, by multiplication with their spectrum. f goes on to the next
    column's embedding; y is this column's image at this scale.

    Choices: the FFT of the estimator's input uses norm="ortho" (the
    spectrum's scale then does not depend on the tile size; the official
    code uses "backward" there), the application uses "backward" both ways
    (spectrum_product: an exact circular convolution). All FFTs run in
    float32 (no bf16 FFT on the CPU). The official code runs the FKE on
    320 px windows (160 at half scale) with 48 px overlap for larger
    images; here it sees the whole input, i.e. the engine's tile (320 px
    by default), and the image is not windowed further.
    """

    def __init__(self, width: int, kernel_width: int,
                 kernel_blocks: Tuple[int, ...], first: bool):
        super().__init__()
        self.estimate_in = nn.Conv2d(width, kernel_width, 1, bias=False)
        self.apply_in = nn.Conv2d(width, width, 1, bias=False)
        self.spectrum_in = nn.Conv2d(2 * kernel_width, kernel_width, 1,
                                     bias=False)
        self.estimator = ReversibleKernelNet(kernel_width, kernel_blocks,
                                             first)
        self.otf_norm = LayerNorm2d(kernel_width)
        self.otf = nn.Conv2d(kernel_width, 2 * width, 1)
        self.merge = nn.Conv2d(2 * width, width, 1, bias=False)
        self.head = BlockAlignedConv2d(width, 3, 3, padding=1)

    def forward(self, d: Tensor, image: Tensor, previous: List[Tensor]
                ) -> Tuple[Tensor, Tensor, List[Tensor]]:
        spectrum = torch.fft.rfft2(self.estimate_in(d).float(), norm="ortho")
        r = self.spectrum_in(torch.cat([spectrum.real, spectrum.imag], 1))
        states = self.estimator(r, previous)
        real, imag = self.otf(self.otf_norm(states[-1])).float().chunk(2, 1)
        blurred = spectrum_product(self.apply_in(d), torch.complex(real, imag))
        features = self.merge(torch.cat([blurred.to(d.dtype), d], dim=1))
        return self.head(features) + image, features, states


class ScaleBranch(nn.Module):
    """One sub-U-Net of the DMS-UNet (Decoupled Multi-Scale U-Net) in one
    column: its own embedding of its own scale's image, a reversible
    encoder and decoder, an image head and an FKE.

    State carried to the next column (a list):
        [d_1, d_0, latent, d_2, FKE features, k_0 .. k_(L-1)]
    d_1, d_0, latent are the next encoder's level states, d_2 the next
    decoder's last level state, the FKE features go into the next
    embedding (Conv1x1(cat[embed(x), f])), the k_l into the next FKE.
    """

    def __init__(self, config: DeepRFTv2Config, cross: bool, first: bool):
        super().__init__()
        width = config.width
        self.embed = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.merge = None if first else nn.Conv2d(2 * width, width, 1)
        self.encoder = ReversibleEncoder(width, config.encoder_blocks, cross,
                                         first)
        self.decoder = ReversibleDecoder(width, config.decoder_blocks, first)
        self.head = BlockAlignedConv2d(width, 3, 3, padding=1)
        self.fke = FourierKernelEstimator(width, config.kernel_width,
                                          config.kernel_blocks, first)

    def embedding(self, image: Tensor, state: List[Tensor]) -> Tensor:
        x = self.embed(image)
        if self.merge is not None:
            x = self.merge(torch.cat([x, state[4]], dim=1))
        return x

    def encode(self, image: Tensor, state: List[Tensor],
               cross: List[Tensor]) -> List[Tensor]:
        return self.encoder(self.embedding(image, state), state[:3], cross)

    def decode(self, encoded: List[Tensor], image: Tensor,
               state: List[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        previous: Optional[Tensor] = None
        if len(state) > 0:
            previous = state[3]
        d = self.decoder(encoded[2], encoded[0], encoded[1], previous)
        plain = self.head(d[2]) + image
        restored, features, kernel = self.fke(d[2], image, state[5:])
        return [plain, restored], [d[1], d[0], encoded[2], d[2],
                                   features] + kernel


class Bridge(nn.Module):
    """Fuse_in_Encoder, downward half: each level of the full-scale encoder,
    halved by Conv2x2/2, enters the same level of the half-scale encoder."""

    def __init__(self, width: int):
        super().__init__()
        self.down0 = down_conv(width, width)
        self.down1 = down_conv(2 * width, 2 * width)
        self.down2 = down_conv(4 * width, 4 * width)

    def forward(self, encoded: List[Tensor]) -> List[Tensor]:
        return [self.down0(encoded[0]), self.down1(encoded[1]),
                self.down2(encoded[2])]


class LatentFusion(nn.Module):
    """DownSample2latent: the half scale's FKE features, halved by
    Conv2x2/2 to c -> 4c at 1/4, are concatenated with the full scale's
    latent and mixed by Conv1x1(8c -> 4c) before its decoder runs."""

    def __init__(self, width: int):
        super().__init__()
        self.down = down_conv(width, 4 * width)
        self.fuse = nn.Conv2d(8 * width, 4 * width, 1)

    def forward(self, latent: Tensor, coarse: Tensor) -> Tensor:
        return self.fuse(torch.cat([self.down(coarse), latent], dim=1))


class Column(nn.Module):
    """One multi-scale U-Net of the stack (a "global U-Net" of the official
    code): the full- and half-scale sub-U-Nets with their two fusions.
    Returns [half plain, half FKE, full plain, full FKE] and the states."""

    def __init__(self, config: DeepRFTv2Config, first: bool):
        super().__init__()
        self.full_scale = ScaleBranch(config, cross=False, first=first)
        self.half_scale = ScaleBranch(config, cross=True, first=first)
        self.bridge = Bridge(config.width)
        self.latent = LatentFusion(config.width)

    def forward(self, image: Tensor, image_half: Tensor,
                full_state: List[Tensor], half_state: List[Tensor]
                ) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        no_cross = torch.jit.annotate(List[Tensor], [])
        encoded = self.full_scale.encode(image, full_state, no_cross)
        encoded_half = self.half_scale.encode(image_half, half_state,
                                              self.bridge(encoded))
        half_out, half_state = self.half_scale.decode(encoded_half, image_half,
                                                      half_state)
        encoded = [encoded[0], encoded[1],
                   self.latent(encoded[2], half_state[4])]
        full_out, full_state = self.full_scale.decode(encoded, image,
                                                      full_state)
        return half_out + full_out, full_state, half_state


class DeepRFTv2(nn.Module):
    """DeepRFTv2 (arXiv 2511.21132) with FDIKP's interface.

    net(x): x is N x 3 x H x W in [0, 1], H and W multiples of
    DeepRFTv2.size_multiple(1) = 8. In training mode it returns
    stage_outputs(x, 1), [y_1/2, y_1] (the last column's FKE images at half
    and full resolution, coarse to fine), in eval mode y_1 only. Outputs are
    not clamped. all_outputs(x) gives every supervised image of the paper's
    loss (each column's plain and FKE image at both scales).

    Stages: DeepRFTv2 has no run-time stage count (its scales and columns
    are fixed modules), so max_stages = 1 and `stages` must be 1; the
    exported model takes the argument like FDIKP's and refuses others.
    """

    size_multiple = staticmethod(size_multiple)
    __jit_ignored_attributes__ = ["config"]
    default_stages = 1

    def __init__(self, config: Union[str, Dict, DeepRFTv2Config, None]
                 = None):
        super().__init__()
        config = deeprftv2_config(config)
        self.config = config
        self.max_stages = MAX_STAGES
        self.multiple = BASE_MULTIPLE
        self.columns = nn.ModuleList([Column(config, first=index == 0)
                                      for index in range(config.columns)])
        if config.identity_start:
            # Our choice (the paper says nothing of initialisation): every
            # image head starts at zero, so every output is its input image
            # until training moves the heads.
            for head in self.heads():
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

    def heads(self) -> List[nn.Conv2d]:
        """The image heads: y = head(.) + x, plain and FKE, every scale."""
        return [m for column in self.columns
                for branch in (column.full_scale, column.half_scale)
                for m in (branch.head, branch.fke.head)]

    def break_identity_start(self, std: float = 0.1) -> None:
        """FOR TESTS ONLY (fdikp.export --random-init): give the
        zero-initialised layers (image heads, NAF blocks' beta and gamma)
        random values, so that an untrained network's output depends on
        every layer. Never use it for training."""
        for head in self.heads():
            head.reset_parameters()
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, NAFBlock):
                    module.beta.normal_(0.0, std)
                    module.gamma.normal_(0.0, std)

    def all_outputs(self, x: Tensor) -> List[Tensor]:
        """Every column's [half plain, half FKE, full plain, full FKE]
        images, column after column (the official code supervises them
        all)."""
        multiple = self.multiple
        if x.shape[2] % multiple != 0 or x.shape[3] % multiple != 0:
            raise ValueError("image sides must be multiples of "
                             + str(multiple) + "; pad with pad_to_multiple()")
        x_half = down2(x)
        full_state = torch.jit.annotate(List[Tensor], [])
        half_state = torch.jit.annotate(List[Tensor], [])
        outputs = torch.jit.annotate(List[Tensor], [])
        for column in self.columns:
            out, full_state, half_state = column(x, x_half, full_state,
                                                 half_state)
            outputs.extend(out)
        return outputs

    def stage_outputs(self, x: Tensor, stages: int) -> List[Tensor]:
        """[y_1/2, y_1]: the last column's FKE images, coarse to fine."""
        if stages < 1 or stages > self.max_stages:
            raise ValueError("stages must be 1.." + str(self.max_stages)
                             + ", got " + str(stages))
        outputs = self.all_outputs(x)
        return [outputs[-3], outputs[-1]]

    @torch.jit.unused
    def forward(self, x: Tensor, stages: int = 1):
        """List of outputs in training mode, the finest in eval."""
        outputs = self.stage_outputs(x, stages)
        return outputs if self.training else outputs[-1]
