"""The convolutions the engine runs without their zero channels are right.

BlockAlignedConv2d (fdikp.layers) pads channels to whole 16-channel blocks
because LibTorch's own oneDNN path gets partly empty blocks wrong. The
engine's fused CPU graph runs channels-last oneDNN calls
(mkldnn::_convolution_pointwise) and takes that padding out again
(engine/cpu_graph_trim.cc), which is right only as long as those calls do
not share the fault. Here every block-aligned convolution of every network
the engine runs (FDIKP, FDIKP-S, DeepRFTv2, DeepRFTv2-S) goes through that
call at its real channel counts, in float32 and bfloat16, on 1 and 2
threads and on a few map sizes, against a float64 convolution. A LibTorch
whose oneDNN breaks one of them fails here, before the engine's output
does.
"""

import unittest

import torch

from fdikp.deeprftv2 import DeepRFTv2
from fdikp.layers import BlockAlignedConv2d
from fdikp.network import FDIKP

SIZES = ((37, 21), (64, 64), (6, 4))


def shapes():
    """{(in, out, kernel, stride, padding)} of the networks' block-aligned
    convolutions."""
    found = set()
    for net in (FDIKP("fdikp"), FDIKP("fdikp-s"), DeepRFTv2("deeprftv2"),
                DeepRFTv2("deeprftv2-s")):
        for module in net.modules():
            if isinstance(module, BlockAlignedConv2d):
                found.add((module.in_channels, module.out_channels,
                           module.kernel_size[0], module.stride[0],
                           module.padding[0]))
    return found


class ChannelsLastOneDnnConvolutions(unittest.TestCase):
    def setUp(self):
        if not torch.backends.mkldnn.is_available():
            self.skipTest("this PyTorch has no oneDNN")
        self.threads = torch.get_num_threads()
        self.addCleanup(torch.set_num_threads, self.threads)

    def test_every_block_aligned_shape_without_its_padding(self):
        found = shapes()
        # The networks have them: PAC's refinement (18 -> 18), the LSTM
        # gates (44 -> 48), the small outputs (-> 1, 3, 12, 25).
        self.assertIn((18, 18, 3, 1, 1), found)
        self.assertIn((44, 48, 5, 1, 2), found)
        generator = torch.Generator().manual_seed(0)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for ic, oc, k, stride, pad in sorted(found):
                weight = torch.randn(oc, ic, k, k, generator=generator) / (ic * k * k) ** 0.5
                bias = torch.randn(oc, generator=generator)
                for height, width in SIZES:
                    if min(height, width) < k:
                        continue
                    x = torch.randn(1, ic, height, width, generator=generator)
                    want = torch.nn.functional.conv2d(
                        x.double(), weight.double(), bias.double(), stride, pad)
                    for dtype, tolerance in ((torch.float32, 1e-4), (torch.bfloat16, 0.1)):
                        with self.subTest(threads=threads, shape=(ic, oc, k, stride),
                                          size=(height, width), dtype=dtype):
                            got = torch.ops.mkldnn._convolution_pointwise(
                                x.to(dtype).contiguous(memory_format=torch.channels_last),
                                weight.to(dtype).contiguous(
                                    memory_format=torch.channels_last),
                                bias.to(dtype), [pad, pad], [stride, stride], [1, 1], 1,
                                "none", [], None)
                            error = (got.double() - want).abs().max().item()
                            self.assertLess(error, tolerance)


if __name__ == "__main__":
    unittest.main()
