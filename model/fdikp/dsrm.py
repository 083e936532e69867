"""DSRM: the dual-domain scale recurrent module that predicts the weights.

DSRM(x_s, state) -> C (12 x h x w): per-pixel coefficients, one per FIKP
feature channel group, that the top level multiplies with the FIKP features
(Sec. 3.3 of arXiv 2508.12736). An encoder, the DDM at the bottleneck
(strip self-attention, then a Fourier-domain block), a decoder and the APU
recurrent unit whose state runs across the stages. Layer sizes follow
design/fdikp-architecture.md ("DSRM"), which takes them from P2IKT,
Stripformer, DeepRFT and GKMNet.
"""

import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import BlockAlignedConv2d

SLOPE = 0.2          # LeakyReLU slope used throughout the DSRM
WIDTH = 64           # encoder/decoder channels
BOTTLENECK = 160     # DDM channels
HEADS = 4            # strip attention heads
STRIP_BLOCKS = 3     # (intra, inter) strip attention pairs
STATE_CHANNELS = 12  # APU state = 2 (N + 1) coefficient maps

State = Tuple[Tensor, Tensor]


def act(x: Tensor, slope: float = SLOPE) -> Tensor:
    # SLOPE arrives as a default argument: TorchScript cannot read a
    # module-level float from inside a function.
    return F.leaky_relu(x, slope)


class Res(nn.Module):
    """Residual block: act(conv3x3(act(conv3x3(x))) + x)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return act(self.conv2(act(self.conv1(x))) + x)


def res_stack(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*[Res(channels) for _ in range(count)])


class Encoder(nn.Module):
    """Three-level encoder: e1 at h, e2 at h/2, the bottleneck at h/4."""

    def __init__(self, width: int = WIDTH, bottleneck: int = BOTTLENECK,
                 blocks: Tuple[int, int] = (3, 3)):
        super().__init__()
        self.conv_in = nn.Conv2d(3, width, 3, padding=1)
        self.level1 = res_stack(width, blocks[0])
        self.down1 = nn.Conv2d(width, width, 3, stride=2, padding=1)
        self.level2 = res_stack(width, blocks[1])
        self.down2 = nn.Conv2d(width, bottleneck, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        e1 = self.level1(act(self.conv_in(x)))
        e2 = self.level2(act(self.down1(e1)))
        return act(self.down2(e2)), e1, e2


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of each pixel of a B x C x H x W map."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def split_heads(tokens: Tensor, heads: int) -> Tensor:
    """Bt x L x D -> Bt x heads x L x D/heads."""
    batch, length, dim = tokens.shape
    return tokens.reshape(batch, length, heads, dim // heads).transpose(1, 2)


def multi_head_attention(q: Tensor, k: Tensor, v: Tensor,
                         heads: int) -> Tensor:
    """softmax(q k^T / sqrt(d)) v per head; tokens are Bt x L x D.

    Head h takes the h-th contiguous slice of D, as in Stripformer.
    """
    batch, length, dim = q.shape
    q, k, v = split_heads(q, heads), split_heads(k, heads), split_heads(v, heads)
    if dim // heads > 64:
        # Inter-strip tokens are whole strips (20 x strip length features
        # per head): there the explicit product runs 6-10x faster on the CPU
        # than the fused kernel, which is built for short heads (measured,
        # LibTorch 2.6, 80 and 160 tokens). The same numbers within 1e-6.
        scores = torch.matmul(q, k.transpose(-2, -1))
        scores = scores * (1.0 / math.sqrt(float(dim // heads)))
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
    else:
        out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).reshape(batch, length, dim)


class StripBlock(nn.Module):
    """What the two strip attentions share (Stripformer, ECCV 2022).

    x = x + Fuse(cat[A_rows, A_cols]) with the attentions computed on the
    two 80-channel halves of Conv1x1(LN(x)); x = x + MLP(LN(x)) with a
    160-640-160 GELU MLP; x = x + DWConv3x3(x), the conditional positional
    encoding. The MLP and the q/k/v projections are 1x1 convolutions:
    the same weights as Stripformer's Linear layers, but they run through
    the convolution library, which is fast on CPU whatever BLAS is loaded.
    Subclasses define how a half becomes tokens.
    """

    def __init__(self, dim: int = BOTTLENECK, heads: int = HEADS):
        super().__init__()
        half = dim // 2
        self.heads = heads
        self.norm_attention = ChannelLayerNorm(dim)
        self.project_in = nn.Conv2d(dim, dim, 1)
        self.qkv_rows = nn.Conv2d(half, 3 * half, 1)
        self.qkv_cols = nn.Conv2d(half, 3 * half, 1)
        self.fuse = nn.Conv2d(dim, dim, 1)
        self.norm_mlp = ChannelLayerNorm(dim)
        self.mlp_in = nn.Conv2d(dim, 4 * dim, 1)
        self.mlp_out = nn.Conv2d(4 * dim, dim, 1)
        self.position = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def attend_rows(self, qkv: Tensor) -> Tensor:
        raise NotImplementedError

    def attend_cols(self, qkv: Tensor) -> Tensor:
        """Columns are the rows of the transposed map."""
        return self.attend_rows(qkv.transpose(2, 3)).transpose(2, 3)

    def forward(self, x: Tensor) -> Tensor:
        rows, cols = self.project_in(self.norm_attention(x)).chunk(2, dim=1)
        attended = torch.cat([self.attend_rows(self.qkv_rows(rows)),
                              self.attend_cols(self.qkv_cols(cols))], dim=1)
        x = x + self.fuse(attended)
        x = x + self.mlp_out(F.gelu(self.mlp_in(self.norm_mlp(x))))
        return x + self.position(x)


class IntraStripAttention(StripBlock):
    """Intra-strip attention: the pixels of one row (or column) attend to
    each other; tokens are pixels, 80 features, 4 heads of 20.

    qkv is B x 3C x H x W (q, k, v stacked on channels); the tokens are
    built for the three at once and split afterwards.
    """

    def attend_rows(self, qkv: Tensor) -> Tensor:
        b, c3, h, w = qkv.shape
        tokens = qkv.permute(0, 2, 3, 1).reshape(b * h, w, c3)
        q, k, v = tokens.chunk(3, dim=2)
        out = multi_head_attention(q, k, v, self.heads)
        return out.view(b, h, w, c3 // 3).permute(0, 3, 1, 2)


class InterStripAttention(StripBlock):
    """Inter-strip attention: whole rows (or columns) attend to each other;
    a token is one strip, its features are 80 channels x its length, and
    head h takes channels 20h .. 20h + 19 of every pixel of the strip."""

    def attend_rows(self, qkv: Tensor) -> Tensor:
        b, c3, h, w = qkv.shape
        c = c3 // 3
        # B x 3 x H x (C W): a row's token lists channel 0's pixels first.
        tokens = qkv.view(b, 3, c, h, w).permute(0, 1, 3, 2, 4)
        tokens = tokens.reshape(b, 3, h, c * w)
        out = multi_head_attention(tokens[:, 0], tokens[:, 1], tokens[:, 2],
                                   self.heads)
        return out.view(b, h, c, w).permute(0, 2, 1, 3)


class FrequencyBlock(nn.Module):
    """Fourier-domain residual block of the DDM (DeepRFT's Res FFT block).

    out = x + Conv3x3(act(Conv3x3(x)))
            + irfft2(Conv3x3(ReLU(Conv3x3(cat[Re, Im](rfft2(x)))))),
    the spectral convolutions seeing 2 x 160 channels. The transforms use
    norm="ortho" so that the spectrum's scale does not depend on the size
    of the image (tiles and whole photos see the same statistics).
    """

    def __init__(self, dim: int = BOTTLENECK):
        super().__init__()
        self.spatial1 = nn.Conv2d(dim, dim, 3, padding=1)
        self.spatial2 = nn.Conv2d(dim, dim, 3, padding=1)
        self.spectral1 = nn.Conv2d(2 * dim, 2 * dim, 3, padding=1)
        self.spectral2 = nn.Conv2d(2 * dim, 2 * dim, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2], x.shape[-1]
        # The transforms run in float32 whatever autocast chose for the
        # convolutions: there is no bf16 FFT on the CPU.
        spectrum = torch.fft.rfft2(x.float(), norm="ortho")
        y = torch.cat([spectrum.real, spectrum.imag], dim=1)
        y = self.spectral2(torch.relu(self.spectral1(y)))
        real, imag = y.float().chunk(2, dim=1)
        y = torch.fft.irfft2(torch.complex(real, imag), s=[height, width],
                             norm="ortho")
        return x + self.spatial2(act(self.spatial1(x))) + y


class DDM(nn.Module):
    """Dual-domain module at the bottleneck: spatial strip attention
    ([intra, inter] x 3), then the frequency block, in series."""

    def __init__(self, dim: int = BOTTLENECK, heads: int = HEADS,
                 blocks: int = STRIP_BLOCKS):
        super().__init__()
        layers: List[nn.Module] = []
        for _ in range(blocks):
            layers.append(IntraStripAttention(dim, heads))
            layers.append(InterStripAttention(dim, heads))
        self.spatial = nn.Sequential(*layers)
        self.frequency = FrequencyBlock(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.frequency(self.spatial(x))


class Decoder(nn.Module):
    """Decoder back to width x h x w, with skips from the encoder (P2IKT).
    """

    def __init__(self, width: int = WIDTH, bottleneck: int = BOTTLENECK,
                 blocks: Tuple[int, int] = (4, 3)):
        super().__init__()
        self.up2 = nn.ConvTranspose2d(bottleneck, width, 4, stride=2,
                                      padding=1)
        self.merge2 = nn.Conv2d(2 * width, width, 1)
        self.level2 = res_stack(width, blocks[0])
        self.up1 = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)
        self.merge1 = nn.Conv2d(2 * width, width, 1)
        self.merge1_conv = nn.Conv2d(width, width, 3, padding=1)
        self.level1 = res_stack(width, blocks[1])

    def forward(self, x: Tensor, e1: Tensor, e2: Tensor) -> Tensor:
        x = act(self.merge2(torch.cat([act(self.up2(x)), e2], dim=1)))
        x = self.level2(x)
        up = act(self.up1(x))
        merged = self.merge1_conv(act(self.merge1(torch.cat([up, e1], 1))))
        return self.level1(act(merged + up))


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM cell (Shi et al. 2015), one 5x5 convolution
    computing the four gates from cat[input, hidden]."""

    def __init__(self, in_channels: int, hidden_channels: int,
                 kernel_size: int = 5):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.gates = BlockAlignedConv2d(in_channels + hidden_channels,
                                        4 * hidden_channels, kernel_size,
                                        padding=kernel_size // 2)

    def forward(self, x: Tensor, state: State) -> State:
        hidden, cell = state
        i, f, o, g = self.gates(torch.cat([x, hidden], dim=1)).chunk(4, 1)
        cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
        hidden = torch.sigmoid(o) * torch.tanh(cell)
        return hidden, cell


class APU(nn.Module):
    """Adaptive prediction unit (GKMNet/P2IKT), the recurrent part (Eq. 9).

    x_res = ReLU(BN(Conv3x3(f))); (h, c) = ConvLSTM(AvgPool2(f), state);
    C = 2 sigmoid(up2(h) x_res + up2(h)) - 1, coefficients in (-1, 1).
    The state lives at half the stage's resolution; up2 is nearest
    neighbour, as in P2IKT.
    """

    def __init__(self, in_channels: int = WIDTH,
                 out_channels: int = STATE_CHANNELS):
        super().__init__()
        self.out_channels = out_channels
        self.project = nn.Sequential(
            BlockAlignedConv2d(in_channels, out_channels, 3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )
        self.lstm = ConvLSTMCell(in_channels, out_channels, 5)

    def forward(self, features: Tensor,
                state: State) -> Tuple[Tensor, State]:
        x_res = self.project(features)
        hidden, cell = self.lstm(F.avg_pool2d(features, 2), state)
        up = F.interpolate(hidden, size=[features.shape[2],
                                         features.shape[3]],
                           mode="nearest")
        return 2.0 * torch.sigmoid(up * x_res + up) - 1.0, (hidden, cell)


class DSRM(nn.Module):
    """Dual-domain scale recurrent module:
    C, state = APU(Decoder(DDM(Encoder(x_s))), state).

    width: encoder/decoder channels; bottleneck: DDM channels; strip_blocks:
    (intra, inter) attention pairs; encoder_blocks / decoder_blocks: Res
    blocks per level (fine level last for the decoder, as it runs)."""

    def __init__(self, width: int = WIDTH, bottleneck: int = BOTTLENECK,
                 heads: int = HEADS, strip_blocks: int = STRIP_BLOCKS,
                 encoder_blocks: Tuple[int, int] = (3, 3),
                 decoder_blocks: Tuple[int, int] = (4, 3)):
        super().__init__()
        self.encoder = Encoder(width, bottleneck, encoder_blocks)
        self.ddm = DDM(bottleneck, heads, strip_blocks)
        self.decoder = Decoder(width, bottleneck, decoder_blocks)
        self.apu = APU(width)

    def initial_state(self, x: Tensor) -> State:
        """Zero state for the coarsest stage whose input is x."""
        shape = [x.shape[0], self.apu.out_channels, x.shape[2] // 2,
                 x.shape[3] // 2]
        zeros = torch.zeros(shape, dtype=x.dtype, device=x.device)
        return zeros, zeros

    def forward(self, x: Tensor, state: State) -> Tuple[Tensor, State]:
        bottleneck, e1, e2 = self.encoder(x)
        features = self.decoder(self.ddm(bottleneck), e1, e2)
        return self.apu(features, state)
