"""FIKP: the frequency-driven inverse kernel prediction branch.

FIKP(z) = Refine(PAC(z, DIKP(z))): DIKP predicts N inverse kernels of size
K x K from the Fourier spectrum of the image z, PAC applies them with a
per-pixel dilation, and a 3x3 convolution refines the result. Section and
equation names follow the paper (arXiv 2508.12736, Sec. 3.2) as read by
design/fdikp-architecture.md ("FIKP" there, steps 1-6).
"""

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import BlockAlignedConv2d

KERNEL_SIZE = 5      # K: each inverse kernel is K x K
NUM_KERNELS = 5      # N: inverse kernels predicted per image
MAX_DILATION = 4.0   # d_max of the dilation map
PREDICTOR_WIDTH = 128


def log_amplitude_and_phase(z: Tensor) -> Tuple[Tensor, Tensor]:
    """Spectrum features of step 1: A = log1p|Z|, P = angle(Z) / pi.

    Z = fft2(z, norm="ortho"), both maps fftshift-ed so that the low
    frequencies sit together in the middle, where the predictor's 11x11
    convolution sees them as one neighbourhood. The spectrum is computed
    from a detached image: angle() has no gradient where |Z| = 0 (a flat
    image), and the paper learns the kernels from the spectrum, not through
    it.
    """
    # float32 whatever autocast chose: there is no bf16 FFT on the CPU.
    spectrum = torch.fft.fft2(z.detach().float(), norm="ortho")
    amplitude = torch.log1p(spectrum.abs())
    phase = torch.angle(spectrum) / math.pi
    dims = [-2, -1]
    return torch.fft.fftshift(amplitude, dims), torch.fft.fftshift(phase, dims)


class Predictor(nn.Module):
    """Kernel predictor of DIKP (Eq. 3 for amplitude, Eq. 4 for phase).

    Conv(3->128, 11x11) -> LeakyReLU -> AvgPool to 3x3 -> Conv1x1(128->K^2)
    -> LeakyReLU -> AvgPool to N x 1 -> Conv1x1(K^2->K^2) -> Softmax over
    the K^2 channels, giving N kernels of K x K that each sum to 1.

    The softmax runs over the K^2 taps of each kernel separately; P2IKT
    pools to (3, 1) and reshapes afterwards, which mixes taps of different
    kernels into one softmax group.
    """

    def __init__(self, kernel_size: int = KERNEL_SIZE,
                 num_kernels: int = NUM_KERNELS,
                 width: int = PREDICTOR_WIDTH, pool: int = 1):
        super().__init__()
        taps = kernel_size * kernel_size
        self.kernel_size = kernel_size
        self.num_kernels = num_kernels
        # pool > 1: the spectrum map is averaged over pool x pool cells
        # before the 11x11 convolution (the fast configuration's choice;
        # its features are pooled to 3 x 3 anyway).
        self.pool = pool
        self.features = nn.Conv2d(3, width, 11, padding=5)
        self.to_taps = nn.Conv2d(width, taps, 1, bias=False)
        self.mix_taps = nn.Conv2d(taps, taps, 1, bias=False)

    def forward(self, spectrum: Tensor) -> Tensor:
        """B x 3 x h x w spectrum map -> B x N x K x K kernels."""
        if self.pool > 1 and min(spectrum.shape[2],
                                 spectrum.shape[3]) >= 2 * self.pool:
            spectrum = F.avg_pool2d(spectrum, self.pool)
        x = F.leaky_relu(self.features(spectrum), 0.2)
        x = F.adaptive_avg_pool2d(x, [3, 3])
        x = F.leaky_relu(self.to_taps(x), 0.2)
        x = F.adaptive_avg_pool2d(x, [self.num_kernels, 1])
        x = torch.softmax(self.mix_taps(x), dim=1)
        # B x K^2 x N x 1: kernel n is the column x[:, :, n, 0].
        batch = x.shape[0]
        return x.squeeze(3).transpose(1, 2).reshape(
            batch, self.num_kernels, self.kernel_size, self.kernel_size)


class AmplitudeAttention(nn.Module):
    """Amplitude-guided attention of DIKP (Eq. 5).

    The spectral residual R = L - AvgPool3x3(L) of the log amplitude L
    (Hou and Zhang's saliency) marks the frequencies where this image
    departs from a smooth spectrum; a 3x3 convolution, global average
    pooling and a softmax turn it into one K x K weight map shared by the N
    phase kernels. L is A = log1p|Z| itself: it already is a log amplitude,
    finite where |Z| = 0.
    """

    def __init__(self, kernel_size: int = KERNEL_SIZE):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = BlockAlignedConv2d(3, kernel_size * kernel_size, 3,
                                       padding=1)

    def forward(self, amplitude: Tensor) -> Tensor:
        """B x 3 x h x w log amplitude -> B x 1 x K x K attention."""
        smooth = F.avg_pool2d(amplitude, 3, stride=1, padding=1,
                              count_include_pad=False)
        residual = amplitude - smooth
        x = self.conv(residual).mean(dim=[2, 3])
        x = torch.softmax(x, dim=1)
        return x.view(-1, 1, self.kernel_size, self.kernel_size)


def inverse_dft_basis(kernel_size: int) -> Tuple[Tensor, Tensor]:
    """Cosine and sine matrices of a fftshift-ed real 2-D inverse DFT.

    For a spectrum X = M exp(j phi) on the K x K grid,
    fftshift(real(ifft2(X))) flattened equals
    (M cos phi) @ cos_basis - (M sin phi) @ sin_basis
    with both spectra flattened row-major. Rows index the frequency (u, v),
    columns the output tap (p, q); the fftshift is folded into the columns.
    """
    k = kernel_size
    freq = torch.arange(k, dtype=torch.float64)
    # Output tap p holds the unshifted spatial index (p - K // 2) mod K.
    shifted = (torch.arange(k) - k // 2) % k
    pos = shifted.to(torch.float64)
    u = freq.view(k, 1, 1, 1)
    v = freq.view(1, k, 1, 1)
    m = pos.view(1, 1, k, 1)
    n = pos.view(1, 1, 1, k)
    angle = 2.0 * math.pi * (u * m + v * n) / k
    norm = 1.0 / (k * k)  # ifft2's default "backward" normalisation
    cos_basis = (torch.cos(angle) * norm).reshape(k * k, k * k)
    sin_basis = (torch.sin(angle) * norm).reshape(k * k, k * k)
    return cos_basis.to(torch.float32), sin_basis.to(torch.float32)


class DIKP(nn.Module):
    """Dual-domain inverse kernel prediction (Eqs. 3-6).

    K_A = Predictor_A(A); K_P = Predictor_P(P) * Attention(A);
    magnitude M = K^2 K_A (mean 1 over the K^2 frequencies),
    phase phi = pi (2 K_P / max(K_P) - 1) (in [-pi, pi]);
    k* = fftshift(real(ifft2(M exp(j phi)))), Eq. 6, computed as a real
    inverse DFT with fixed cosine/sine matrices so that no complex tensor
    needs a gradient.
    """

    def __init__(self, kernel_size: int = KERNEL_SIZE,
                 num_kernels: int = NUM_KERNELS,
                 predictor_width: int = PREDICTOR_WIDTH,
                 predictor_pool: int = 1):
        super().__init__()
        self.kernel_size = kernel_size
        self.num_kernels = num_kernels
        self.predictor_amplitude = Predictor(kernel_size, num_kernels,
                                             predictor_width, predictor_pool)
        self.predictor_phase = Predictor(kernel_size, num_kernels,
                                         predictor_width, predictor_pool)
        self.attention = AmplitudeAttention(kernel_size)
        cos_basis, sin_basis = inverse_dft_basis(kernel_size)
        self.register_buffer("cos_basis", cos_basis, persistent=False)
        self.register_buffer("sin_basis", sin_basis, persistent=False)

    def forward(self, amplitude: Tensor, phase: Tensor) -> Tensor:
        """Spectrum maps (B x 3 x h x w each) -> B x N x K x K kernels."""
        taps = self.kernel_size * self.kernel_size
        kernel_amplitude = self.predictor_amplitude(amplitude)
        kernel_phase = (self.predictor_phase(phase)
                        * self.attention(amplitude))
        magnitude = taps * kernel_amplitude
        # Softmax products are positive; the floor only guards underflow.
        peak = kernel_phase.amax(dim=[2, 3], keepdim=True).clamp_min(1e-12)
        phi = math.pi * (2.0 * kernel_phase / peak - 1.0)
        return self.inverse_kernel(magnitude, phi)

    def inverse_kernel(self, magnitude: Tensor, phi: Tensor) -> Tensor:
        """Eq. 6: fftshift(real(ifft2(magnitude exp(j phi)))), each
        B x N x K x K, as real matrix products."""
        batch, count, k, _ = magnitude.shape
        magnitude = magnitude.reshape(batch, count, k * k)
        phi = phi.reshape(batch, count, k * k)
        kernels = (torch.matmul(magnitude * torch.cos(phi), self.cos_basis)
                   - torch.matmul(magnitude * torch.sin(phi), self.sin_basis))
        return kernels.view(batch, count, k, k)


class PAC(nn.Module):
    """Position-adaptive convolution (Eq. 7).

    out_n(p) = sum_{i,j} k*_n(i, j) z(p + (i, j) D(p)), with the dilation
    map D = 1 + (d_max - 1) sigmoid(Conv3x3(z)) and (i, j) in
    {-K//2 .. K//2}^2. All K^2 taps are sampled with one bilinear
    grid_sample (border padding) and the N kernels are shared by the three
    colour channels. The image itself is prepended as an identity kernel,
    giving 3 x (N + 1) channels, colour-major.

    The dilation bias starts at -4 so that D starts near 1 (about 1.05):
    the network begins with plain 5x5 kernels and learns to widen them; a
    bare sigmoid would start at D = 2.5 and could only shrink towards 1.
    """

    def __init__(self, kernel_size: int = KERNEL_SIZE,
                 max_dilation: float = MAX_DILATION):
        super().__init__()
        self.kernel_size = kernel_size
        self.max_dilation = max_dilation
        self.dilation = BlockAlignedConv2d(3, 1, 3, padding=1)
        nn.init.constant_(self.dilation.bias, -4.0)
        radius = kernel_size // 2
        steps = torch.arange(-radius, radius + 1, dtype=torch.float32)
        dy, dx = torch.meshgrid(steps, steps, indexing="ij")
        # Row-major tap order, matching the flattened K x K kernels.
        offsets = torch.stack([dx.reshape(-1), dy.reshape(-1)], dim=1)
        self.register_buffer("tap_offsets", offsets, persistent=False)

    def dilation_map(self, z: Tensor) -> Tensor:
        """D(p) in [1, d_max], B x 1 x h x w."""
        return 1.0 + (self.max_dilation - 1.0) * torch.sigmoid(
            self.dilation(z))

    def filter_batch(self, z: Tensor, grid: Tensor,
                     kernels: Tensor) -> Tensor:
        """The N kernels applied at every tap: B x 3 x N x hw, from z (B x 3
        x h x w), grid (B x K^2 x h x w x 2) and kernels (B x N x K x K)."""
        batch, channels, height, width = z.shape
        taps = grid.shape[1]
        samples = F.grid_sample(
            z, grid.view(batch, taps * height, width, 2), mode="bilinear",
            padding_mode="border", align_corners=False)
        samples = samples.view(batch, channels, taps, height * width)
        return torch.matmul(kernels.reshape(batch, 1, -1, taps), samples)

    def filter_one(self, z: Tensor, grid: Tensor, kernels: Tensor) -> Tensor:
        """filter_batch for one image (the engine's tiles), the same
        numbers faster: PyTorch's CPU grid_sample spreads only its batch
        over threads, so each tap is a batch item, sampling the same image
        (expanded, not copied), and the N kernels apply as one K^2-deep
        product over all taps."""
        _, channels, height, width = z.shape
        taps = grid.shape[1]
        samples = F.grid_sample(
            z.expand(taps, channels, height, width),
            grid.view(taps, height, width, 2), mode="bilinear",
            padding_mode="border", align_corners=False)
        filtered = torch.matmul(
            kernels.reshape(-1, taps),
            samples.reshape(taps, channels * height * width))
        return filtered.view(-1, channels, height * width).transpose(
            0, 1).unsqueeze(0)

    def tap_grid(self, z: Tensor) -> Tensor:
        """Where every tap samples z, in grid_sample's coordinates:
        B x K^2 x h x w x (x, y)."""
        batch, _, height, width = z.shape
        taps = self.kernel_size * self.kernel_size
        dilation = self.dilation_map(z)
        ys = torch.arange(height, dtype=z.dtype, device=z.device)
        xs = torch.arange(width, dtype=z.dtype, device=z.device)
        # Normalised coordinates for align_corners=False (pixel centres),
        # which stay defined for a side of length 1: pixel (x, y) + tap
        # offset o * D sits at (2 (x, y) + 1) / size - 1 + (2 o / size) D.
        size = torch.tensor([width, height], dtype=z.dtype, device=z.device)
        base = torch.stack([xs.view(1, width).expand(height, width),
                            ys.view(height, 1).expand(height, width)], dim=2)
        base = (2.0 * base + 1.0) / size - 1.0
        steps = (2.0 * self.tap_offsets / size).view(taps, 1, 1, 2)
        # One pass over the K^2 x h x w x 2 grid (it is the size of 50
        # image channels): base + steps * D.
        return torch.addcmul(base, steps,
                             dilation.view(batch, 1, height, width, 1))

    def forward(self, z: Tensor, kernels: Tensor) -> Tensor:
        """z: B x 3 x h x w, kernels: B x N x K x K -> B x 3(N+1) x h x w."""
        batch, channels, height, width = z.shape
        grid = self.tap_grid(z)
        if batch == 1:
            filtered = self.filter_one(z, grid, kernels)
        else:
            filtered = self.filter_batch(z, grid, kernels)
        identity = z.reshape(batch, channels, 1, height * width)
        out = torch.cat([identity, filtered], dim=2)
        return out.view(batch, -1, height, width)


class FIKP(nn.Module):
    """Frequency-driven inverse kernel prediction module (Sec. 3.2).

    z (B x 3 x h x w) -> spectrum (A, P) -> DIKP -> N inverse kernels ->
    PAC -> Conv3x3(18 -> 18) refinement -> B x 3(N+1) x h x w features.
    """

    def __init__(self, kernel_size: int = KERNEL_SIZE,
                 num_kernels: int = NUM_KERNELS,
                 max_dilation: float = MAX_DILATION,
                 predictor_width: int = PREDICTOR_WIDTH,
                 predictor_pool: int = 1):
        super().__init__()
        channels = 3 * (num_kernels + 1)
        self.dikp = DIKP(kernel_size, num_kernels, predictor_width,
                         predictor_pool)
        self.pac = PAC(kernel_size, max_dilation)
        self.refine = BlockAlignedConv2d(channels, channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        amplitude, phase = log_amplitude_and_phase(z)
        kernels = self.dikp(amplitude, phase)
        return self.refine(self.pac(z, kernels))
