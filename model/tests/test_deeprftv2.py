"""DeepRFTv2, the second architecture (fdikp.deeprftv2): sizes, the paper's
blocks, the platform's convolutions, the identity start, the reversible
couplings, bf16, and the exported TorchScript file (same contract as
FDIKP's). CPU-small: images of at most 64 x 64. The exported files use
RANDOM weights (--random-init): they test plumbing, not deblurring."""

import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest

import torch
import torch.nn.functional as F
from torch import nn

from fdikp.deeprftv2 import (CONFIGS, DeepRFTv2, DeepRFTv2Config,
                             deeprftv2_config, down2, spectrum_product)
from tests.checks import silent_parameters
from fdikp.export import (DeblurModel, read_metadata,
                          script_for_inference)
from fdikp.registry import load_network

torch.set_num_threads(2)

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 3
PROBE = "32"  # side of the memory probe image: small, to keep tests fast
# Counted from the modules (docs/model/architecture.md, "DeepRFTv2"); a change here is
# a change of the architecture.
PARAMETERS = {"deeprftv2": 21180600, "deeprftv2-s": 869624}


def random_net(config: str = "deeprftv2-s", seed: int = SEED) -> DeepRFTv2:
    """What `fdikp.export --random-init --config CONFIG --seed SEED`
    exports: random weights, no identity start."""
    torch.manual_seed(seed)
    net = DeepRFTv2(config).eval()
    net.break_identity_start()
    return net


def float64_reference(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """conv in float64 (not through oneDNN). Depthwise convolutions are
    summed tap by tap: PyTorch's float64 grouped convolution takes seconds
    for a few hundred groups."""
    exact = copy.deepcopy(conv).double()
    if not (conv.groups > 1 and conv.groups == conv.in_channels
            and conv.stride == (1, 1)):
        return exact(x)
    (kh, kw), (ph, pw) = conv.kernel_size, conv.padding
    padded = F.pad(x, [pw, pw, ph, ph])
    height, width = x.shape[2], x.shape[3]
    y = sum(exact.weight[:, 0, i, j].view(1, -1, 1, 1)
            * padded[:, :, i:i + height, j:j + width]
            for i in range(kh) for j in range(kw))
    if exact.bias is not None:
        y = y + exact.bias.view(1, -1, 1, 1)
    return y


def run_export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fdikp.export", *args],
                          cwd=MODEL_DIR, capture_output=True, text=True)


class NetworkTest(unittest.TestCase):
    def test_parameter_counts(self):
        for name, expected in PARAMETERS.items():
            with self.subTest(config=name):
                net = DeepRFTv2(name)
                self.assertEqual(sum(p.numel() for p in net.parameters()),
                                 expected)
        small = PARAMETERS["deeprftv2-s"]
        self.assertTrue(0.5e6 <= small <= 1e6, small)

    def test_fast_configuration_keeps_every_part(self):
        kinds = {type(m).__name__ for m in DeepRFTv2("deeprftv2-s").modules()}
        for part in ("Column", "ScaleBranch", "ReversibleEncoder",
                     "ReversibleDecoder", "FourierKernelEstimator",
                     "ReversibleKernelNet", "Bridge", "LatentFusion",
                     "NAFBlock"):
            self.assertIn(part, kinds)
        self.assertEqual(CONFIGS["deeprftv2-s"].columns,
                         CONFIGS["deeprftv2"].columns)

    def test_every_convolution_is_exact_on_this_platform(self):
        """Forward and input gradient of each convolution against float64,
        which does not go through oneDNN (see layers.BlockAlignedConv2d),
        in every named configuration: one convolution of each shape (the
        platform's bug depends on the shapes, not on the weights)."""
        torch.manual_seed(0)
        seen = set()
        for name in CONFIGS:
            net = DeepRFTv2(name)
            net.break_identity_start()  # no all-zero weights
            for module_name, conv in net.named_modules():
                if not isinstance(conv, nn.Conv2d):
                    continue
                shape = (type(conv), conv.in_channels, conv.out_channels,
                         conv.kernel_size, conv.stride, conv.padding,
                         conv.groups, conv.bias is None)
                if shape in seen:
                    continue
                seen.add(shape)
                with self.subTest(conv=name + "." + module_name):
                    x = torch.rand(2, conv.in_channels, 12, 12,
                                   requires_grad=True)
                    y = conv(x)
                    grad_out = torch.randn_like(y)
                    (grad_in,) = torch.autograd.grad(y, x, grad_out)
                    x64 = x.detach().double().requires_grad_()
                    y64 = float64_reference(conv, x64)
                    (grad_in64,) = torch.autograd.grad(y64, x64,
                                                       grad_out.double())
                    for got, want in ((y, y64), (grad_in, grad_in64)):
                        error = (got.double() - want).abs().max()
                        self.assertLess(error / want.abs().max(), 1e-5)

    def test_configuration_round_trips_and_names_are_checked(self):
        for name, config in CONFIGS.items():
            stored = config.to_dict()
            self.assertEqual(stored["architecture"], "DeepRFTv2")
            self.assertEqual(config.name, name)
            self.assertEqual(deeprftv2_config(json.loads(json.dumps(stored))),
                             config)
            self.assertEqual(deeprftv2_config(name), config)
        with self.assertRaisesRegex(ValueError, "unknown DeepRFTv2"):
            deeprftv2_config("deeprftv2-xl")
        with self.assertRaisesRegex(ValueError, "unknown network options"):
            deeprftv2_config(dict(CONFIGS["deeprftv2"].to_dict(), depth=3))
        with self.assertRaisesRegex(ValueError, "not a DeepRFTv2"):
            deeprftv2_config(dict(CONFIGS["deeprftv2"].to_dict(),
                                  architecture="FDIKP"))
        with self.assertRaisesRegex(ValueError, "multiples of 16"):
            DeepRFTv2Config(width=24)

    def test_untrained_network_returns_its_input(self):
        """Identity start: every image head is zero, so every output (both
        columns, both scales, plain and FKE) is its input image exactly."""
        x = torch.rand(2, 3, 16, 24)
        for name in CONFIGS:
            net = DeepRFTv2(name)
            with self.subTest(config=name), torch.no_grad():
                outputs = net.train().all_outputs(x)
                self.assertEqual(len(outputs), 4 * net.config.columns)
                for index, output in enumerate(outputs):
                    want = down2(x) if index % 4 < 2 else x
                    self.assertTrue(torch.equal(output, want), index)
                half, full = net(x)
                self.assertTrue(torch.equal(half, down2(x)))
                self.assertTrue(torch.equal(full, x))
                self.assertTrue(torch.equal(net.eval()(x), x))

    def test_identity_start_still_learns(self):
        """The zero heads get a gradient at once, NAF's zero residual scales
        at the second step, everything else from the third (the official
        code's deep supervision: every output in the loss)."""
        net = DeepRFTv2("deeprftv2-s").train()
        x = torch.rand(2, 3, 16, 16)
        target = x.roll(1, dims=3)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(3):
            outputs = net.all_outputs(x)
            loss = sum(F.l1_loss(y, target if y.shape[-1] == 16
                                 else down2(target)) for y in outputs)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        self.assertEqual(silent_parameters(net), [])

    def test_outputs_coarse_to_fine_and_sizes(self):
        net = random_net()
        x = torch.rand(1, 3, 24, 40)
        with torch.no_grad():
            half, full = net.train()(x)
            self.assertEqual(tuple(half.shape), (1, 3, 12, 20))
            self.assertEqual(tuple(full.shape), (1, 3, 24, 40))
            self.assertEqual(tuple(net.eval()(x).shape), (1, 3, 24, 40))
        self.assertEqual(DeepRFTv2.size_multiple(1), 8)
        self.assertEqual(net.max_stages, 1)
        with self.assertRaisesRegex(ValueError, "single stage"):
            DeepRFTv2.size_multiple(2)
        with self.assertRaisesRegex(ValueError, "stages must be 1..1"):
            net.stage_outputs(x, 2)
        with self.assertRaisesRegex(ValueError, "multiples of 8"):
            net.stage_outputs(torch.rand(1, 3, 12, 16), 1)

    def test_reversible_couplings_recover_the_previous_column(self):
        """Encoder, decoder and FKE sub-network of a later column: the
        previous column's states come back from the outputs (float64)."""
        net = random_net()
        column = copy.deepcopy(net.columns[1]).double()
        c, k = net.config.width, net.config.kernel_width

        def rand(channels, side):
            return torch.rand(1, channels, side, side, dtype=torch.float64)

        for branch, cross in ((column.full_scale, []),
                              (column.half_scale,
                               [rand(c, 16), rand(2 * c, 8), rand(4 * c, 4)])):
            states = [rand(c, 16), rand(2 * c, 8), rand(4 * c, 4)]
            x = rand(c, 16)
            encoded = branch.encoder(x, states, cross)
            for got, want in zip(branch.encoder.reconstruct(x, encoded,
                                                            cross), states):
                torch.testing.assert_close(got, want)
            previous = rand(c, 16)
            decoded = branch.decoder(encoded[2], encoded[0], encoded[1],
                                     previous)
            for got, want in zip(branch.decoder.reconstruct(encoded[2],
                                                            decoded),
                                 [encoded[0], encoded[1], previous]):
                torch.testing.assert_close(got, want)
            spectrum = rand(k, 9)
            kernel_states = [rand(k, 9)
                             for _ in net.config.kernel_blocks]
            estimator = branch.fke.estimator
            out = estimator(spectrum, kernel_states)
            for got, want in zip(estimator.reconstruct(spectrum, out),
                                 kernel_states):
                torch.testing.assert_close(got, want)

    def test_kernel_is_applied_by_multiplying_spectra(self):
        """spectrum_product(f, OTF) is the circular convolution of f with
        the kernel irfft2(OTF); OTF = 1 is the identity."""
        torch.manual_seed(1)
        features = torch.rand(2, 4, 10, 14)
        otf_one = torch.ones(2, 4, 10, 8, dtype=torch.complex64)
        torch.testing.assert_close(spectrum_product(features, otf_one),
                                   features)
        kernel = torch.zeros(10, 14)
        taps = torch.rand(3, 3)
        want = torch.zeros_like(features)
        for a in (-1, 0, 1):
            for b in (-1, 0, 1):
                kernel[a % 10, b % 14] = taps[a + 1, b + 1]
                want += taps[a + 1, b + 1] * features.roll((a, b), (2, 3))
        got = spectrum_product(features, torch.fft.rfft2(kernel))
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)

    def test_bf16_autocast_runs_on_the_cpu(self):
        """The FFTs run in float32 whatever autocast chose for the convs."""
        net = random_net().train()
        x = torch.rand(1, 3, 32, 32)
        with torch.no_grad():
            want = net.all_outputs(x)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                got = net.all_outputs(x)
        for y, y32 in zip(got, want):
            self.assertTrue(torch.isfinite(y).all())
            self.assertLess((y.float() - y32).abs().max().item(), 0.05)


class ExportTest(unittest.TestCase):
    """The file fdikp.export writes for DeepRFTv2 (--random-init)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model_file = os.path.join(cls.tmp.name, "deeprftv2-s.pt")
        result = run_export("--random-init", "--config", "deeprftv2-s",
                            "--seed", str(SEED), "--out", cls.model_file,
                            "--memory-probe-size", PROBE)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        cls.model = torch.jit.load(cls.model_file)
        cls.eager = DeblurModel(random_net()).eval()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_metadata(self):
        info = read_metadata(self.model_file)
        self.assertEqual(info["format"], "fdikp-deblur-model")
        self.assertEqual(info["architecture"], "DeepRFTv2")
        self.assertEqual(info["configuration"], "deeprftv2-s")
        self.assertEqual(info["max_stages"], 1)
        self.assertEqual(info["default_stages"], 1)
        self.assertEqual(info["base_multiple"], 8)
        self.assertEqual(info["parameters"], PARAMETERS["deeprftv2-s"])
        self.assertEqual(deeprftv2_config(json.loads(info["network"])),
                         CONFIGS["deeprftv2-s"])
        self.assertGreater(info["memory_bytes_per_pixel"], 0)
        self.assertIn("TEST ONLY", info["training"])

    def test_the_tools_run_the_files_own_stage_count_by_default(self):
        """evaluate and tone_check without --stages run the file at its
        default_stages (1 here; a literal 3 failed on DeepRFTv2)."""
        from PIL import Image
        from fdikp import evaluate, tone_check
        pairs = os.path.join(self.tmp.name, "pairs")
        for sub in ("blur", "sharp"):
            os.makedirs(os.path.join(pairs, sub), exist_ok=True)
            Image.new("RGB", (24, 20), (90, 120, 150)).save(
                os.path.join(pairs, sub, "a.png"))
        self.assertEqual(evaluate.file_default_stages(self.model_file), 1)
        out = os.path.join(self.tmp.name, "eval.json")
        self.assertEqual(evaluate.main(["--model", self.model_file,
                                        "--pairs", pairs, "--json", out]), 0)
        with open(out) as f:
            self.assertEqual(json.load(f)["stages"], 1)
        self.assertEqual(tone_check.main(["--model", self.model_file,
                                          "--pairs", pairs]), 0)

    def test_odd_sizes_match_eager(self):
        """Any size (padded to 8 inside, cropped back), and the scripted,
        frozen file computes what the eager network does."""
        torch.manual_seed(0)
        for shape in ((1, 3, 1, 1), (1, 3, 3, 2), (1, 3, 45, 77)):
            with self.subTest(shape=shape):
                image = torch.rand(shape)
                with torch.inference_mode():
                    got = self.model(image, 1)
                    want = self.eager(image, 1)
                self.assertEqual(tuple(got.shape), shape)
                self.assertTrue(torch.isfinite(got).all())
                self.assertGreaterEqual(got.min().item(), 0.0)
                self.assertLessEqual(got.max().item(), 1.0)
                torch.testing.assert_close(got, want, atol=1e-5, rtol=0)

    def test_bad_stages_raise(self):
        for stages in (0, 2, 3):
            with self.assertRaisesRegex(Exception, "stages must be 1..1"):
                with torch.inference_mode():
                    self.model(torch.rand(1, 3, 16, 16), stages)

    def test_weights_load_as_deeprftv2(self):
        """A checkpoint whose `network` is a DeepRFTv2 configuration loads
        as DeepRFTv2 (fdikp.export dispatches on it) with its weights."""
        net = random_net(seed=5)
        with tempfile.TemporaryDirectory() as tmp:
            weights = os.path.join(tmp, "ckpt.pt")
            torch.save({"model": net.state_dict(),
                        "network": net.config.to_dict()}, weights)
            loaded = load_network(weights)
        self.assertIsInstance(loaded, DeepRFTv2)
        self.assertEqual(loaded.config, net.config)
        image = torch.rand(1, 3, 16, 24)
        with torch.inference_mode():
            torch.testing.assert_close(
                script_for_inference(loaded)(image, 1),
                DeblurModel(net)(image, 1), atol=1e-5, rtol=0)

    def test_more_default_stages_than_the_network_has_are_refused(self):
        result = run_export("--random-init", "--config", "deeprftv2-s",
                            "--stages-default", "2", "--out", "unused.pt")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("at most 1 stage", result.stderr)


if __name__ == "__main__":
    unittest.main()
