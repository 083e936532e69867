"""Layers shared by the FDIKP modules, and what both networks'
configurations share."""

from dataclasses import asdict, fields
from typing import Dict

import torch.nn.functional as F
from torch import Tensor, nn


class SizesConfig:
    """to_dict/from_dict of a network's frozen dataclass of sizes, as it
    travels with the weights (checkpoints, fdikp.json): tuples as JSON
    lists, unknown options refused."""

    def to_dict(self) -> Dict:
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Dict):
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError("unknown network options: "
                             + ", ".join(sorted(unknown)))
        return cls(**values)


ONEDNN_BLOCK = 16
# Strided convolutions need their input channels in multiples of 32 (see
# BlockAlignedConv2d).
STRIDED_INPUT_BLOCK = 32


def _input_padding(channels: int, block: int = ONEDNN_BLOCK,
                   strided: bool = False,
                   strided_block: int = STRIDED_INPUT_BLOCK) -> int:
    if strided:
        block = strided_block
    return 0 if channels <= block else (-channels) % block


def _output_padding(channels: int, block: int = ONEDNN_BLOCK) -> int:
    return (-channels) % block


class BlockAlignedConv2d(nn.Conv2d):
    """nn.Conv2d that runs with its channel counts zero-padded to suit
    oneDNN's 16-channel blocks; same parameters, same state_dict, same
    result.

    Why: on the target platform (Debian 13, PyTorch/LibTorch 2.6 with
    oneDNN 3.7, AVX-512 CPU) k x k convolutions (k > 1) return wrong
    values, sometimes NaN, when the channel counts leave a 16-channel
    block partly empty: the forward pass when the input has more than 16
    channels and not a multiple of 16 (measured max error 2.2 for
    18 -> 18, 10 for 76 -> 48), the gradient with respect to the input
    whenever the output channels are not a multiple of 16 (1, 3, 12, 18,
    25 all fail). Zero channels fill the blocks. 1 x 1 convolutions are
    not affected. tests/test_network.py checks every convolution of the
    network against float64, which does not go through oneDNN.

    Strided convolutions (stride 2, kernel 2, 3 or 4) have one more case:
    the gradient with respect to the input is wrong whenever the input has
    more than 32 channels and in_channels % 32 is 8 or 16 (40, 48, 72, 80,
    ... fail; 8 to 32, 56, 64, 96 are right; the forward is right). With
    stride > 1 more than 32 input channels are therefore padded to a
    multiple of 32 (tests/test_deeprftv2.py found it; FDIKP's strided convs
    have 32 or 64 input channels).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 padding: int = 0, stride: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size,
                         padding=padding, stride=stride, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        pad_in = _input_padding(self.in_channels,
                                strided=self.stride[0] > 1
                                or self.stride[1] > 1)
        pad_out = _output_padding(self.out_channels)
        weight = F.pad(self.weight, [0, 0, 0, 0, 0, pad_in, 0, pad_out])
        bias = self.bias
        if bias is not None:
            bias = F.pad(bias, [0, pad_out])
        if pad_in > 0:  # a constant: freezing keeps one branch
            x = F.pad(x, [0, 0, 0, 0, 0, pad_in])
        y = F.conv2d(x, weight, bias, self.stride, self.padding,
                     self.dilation, self.groups)
        return y[:, :self.out_channels]
