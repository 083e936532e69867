"""The FDIKP network in eager PyTorch: sizes, the paper's building blocks,
numerical safety and trainability. CPU-small: images of at most 64 x 64."""

import copy
import dataclasses
import math
import unittest

import torch
import torch.nn.functional as F
from torch import nn

from tests.checks import silent_parameters
from fdikp.fikp import DIKP, PAC, Predictor
from fdikp.network import (CONFIGS, FDIKP, NetworkConfig, crop, down2,
                           gaussian_blur, keep_tone, network_config,
                           pad_to_multiple, size_multiple)

torch.set_num_threads(2)

PAPER_PARAMETERS = 5.52e6


def smooth_image(batch: int, size: int, seed: int = 0) -> torch.Tensor:
    """A photo-like test image: random blobs, values in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, size // 8, size // 8, generator=gen)
    return F.interpolate(coarse, size=[size, size], mode="bicubic",
                         align_corners=False).clamp(0, 1)


def box_blur(x: torch.Tensor, radius: int) -> torch.Tensor:
    kernel = torch.ones(3, 1, 2 * radius + 1, 2 * radius + 1)
    kernel /= kernel[0].numel()
    padded = F.pad(x, [radius] * 4, mode="replicate")
    return F.conv2d(padded, kernel, groups=3)


class NetworkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.net = FDIKP()
        # A random output convolution, so that these tests see every
        # module's effect (the identity start would hide them).
        cls.net.out_conv.reset_parameters()

    def test_parameter_count_matches_the_paper(self):
        total = sum(p.numel() for p in self.net.parameters())
        self.assertLess(abs(total - PAPER_PARAMETERS) / PAPER_PARAMETERS,
                        0.05, f"{total} parameters")
        fikp = sum(p.numel() for p in self.net.fikp.parameters())
        self.assertLess(abs(fikp - 104e3), 5e3, "FIKP ~104k (spec)")

    def test_each_feature_is_weighted_by_its_kernels_coefficient(self):
        # Eq. 2: y = x + Conv1x1(cat[FIKP(x), FIKP(prev)] * C'), C' each
        # half of C repeated once per colour; the stage broadcasts C over
        # the colours instead of copying it, with the same numbers.
        torch.manual_seed(1)
        net = FDIKP("fdikp-s").eval()
        net.out_conv.reset_parameters()
        x, prev = torch.rand(2, 3, 32, 48), torch.rand(2, 3, 32, 48)
        state = net.dsrm.initial_state(x)
        with torch.no_grad():
            y, _ = net.stage(x, prev, state)
            features = torch.cat([net.fikp(x), net.fikp(prev)], dim=1)
            current, previous = net.dsrm(x, state)[0].chunk(2, dim=1)
            weights = torch.cat([current.repeat(1, 3, 1, 1),
                                 previous.repeat(1, 3, 1, 1)], dim=1)
            expected = x + net.out_conv(features * weights)
        self.assertTrue(torch.equal(y, expected))

    def test_every_convolution_is_exact_on_this_platform(self):
        """Forward and input gradient of each convolution against float64,
        which does not go through oneDNN (see layers.BlockAlignedConv2d),
        in every named configuration."""
        torch.manual_seed(0)
        convs = [(name, conv) for name, conv in self.net.named_modules()]
        small = FDIKP("fdikp-s")
        small.out_conv.reset_parameters()  # not zero: a relative error
        convs += [("fdikp-s." + name, conv)
                  for name, conv in small.named_modules()]
        for name, conv in convs:
            if not isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
                continue
            with self.subTest(conv=name):
                x = torch.rand(2, conv.in_channels, 12, 12,
                               requires_grad=True)
                y = conv(x)
                grad_out = torch.randn_like(y)
                (grad_in,) = torch.autograd.grad(y, x, grad_out)
                exact = copy.deepcopy(conv).double()
                x64 = x.detach().double().requires_grad_()
                y64 = exact(x64)
                (grad_in64,) = torch.autograd.grad(y64, x64,
                                                   grad_out.double())
                for got, want in ((y, y64), (grad_in, grad_in64)):
                    error = (got.double() - want).abs().max()
                    self.assertLess(error / want.abs().max(), 1e-5)

    def test_fast_configuration_keeps_every_part_at_a_fraction(self):
        small = FDIKP("fdikp-s")
        total = sum(p.numel() for p in small.parameters())
        paper = sum(p.numel() for p in self.net.parameters())
        self.assertLess(total, 0.25 * paper, f"{total} parameters")
        kinds = {type(m).__name__ for m in small.modules()}
        for part in ("DIKP", "PAC", "AmplitudeAttention", "Predictor",
                     "DDM", "IntraStripAttention", "InterStripAttention",
                     "FrequencyBlock", "APU", "ConvLSTMCell", "Encoder",
                     "Decoder"):
            self.assertIn(part, kinds)
        x = smooth_image(1, 32)
        self.assertEqual(len(small.train()(x, 3)), 3)

    def test_configuration_round_trips_and_names_are_checked(self):
        for name, config in CONFIGS.items():
            self.assertEqual(config.name, name)
            self.assertEqual(network_config(config.to_dict()), config)
            self.assertEqual(network_config(name), config)
        self.assertEqual(network_config(None), CONFIGS["fdikp"])
        with self.assertRaisesRegex(ValueError, "unknown network config"):
            network_config("fdikp-xl")
        with self.assertRaisesRegex(ValueError, "unknown network options"):
            network_config(dict(CONFIGS["fdikp"].to_dict(), depth=3))
        for width in (24, 48):
            with self.assertRaisesRegex(ValueError, "width must be"):
                NetworkConfig(width=width)

    def test_untrained_network_returns_its_input(self):
        """Identity start: every stage returns its own pyramid level, so
        training begins at the blurry input's score."""
        x = smooth_image(2, 32, seed=3)
        for name in CONFIGS:
            net = FDIKP(name)
            with self.subTest(config=name), torch.no_grad():
                outputs = net.train()(x, 3)
                for output, level in zip(outputs, [down2(down2(x)),
                                                   down2(x), x]):
                    self.assertTrue(torch.equal(output, level))
                self.assertTrue(torch.equal(net.eval()(x, 2), x))

    def test_identity_start_still_learns(self):
        """The zero output convolution gets a gradient at once, and the
        rest of the network from the second step on."""
        net = FDIKP("fdikp-s").train()
        x = smooth_image(2, 32, seed=4)
        target = x.roll(1, dims=3)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(2):
            loss = F.mse_loss(net(x, 2)[-1], target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        self.assertEqual(silent_parameters(net), [])

    def test_size_multiple(self):
        self.assertEqual([size_multiple(s) for s in range(1, 6)],
                         [4, 8, 16, 32, 64])
        self.assertEqual(FDIKP.size_multiple(3), 16)

    def test_training_mode_returns_every_stage_coarse_to_fine(self):
        self.net.train()
        x = torch.rand(2, 3, 64, 64)
        for stages in range(1, 6):
            with self.subTest(stages=stages), torch.no_grad():
                outputs = self.net(x, stages=stages)
                self.assertIsInstance(outputs, list)
                self.assertEqual(len(outputs), stages)
                for index, y in enumerate(outputs):
                    side = 64 >> (stages - 1 - index)
                    self.assertEqual(tuple(y.shape), (2, 3, side, side))

    def test_eval_mode_returns_the_finest_output(self):
        self.net.eval()
        x = torch.rand(2, 3, 16, 48)
        with torch.no_grad():
            y = self.net(x, stages=3)
            outputs = self.net.stage_outputs(x, 3)
        self.assertIsInstance(y, torch.Tensor)
        self.assertEqual(tuple(y.shape), (2, 3, 16, 48))
        torch.testing.assert_close(y, outputs[-1])

    def test_batch_items_are_independent_in_eval(self):
        self.net.eval()
        x = torch.rand(2, 3, 32, 32)
        with torch.no_grad():
            both = self.net(x, stages=2)
            first = self.net(x[:1], stages=2)
        torch.testing.assert_close(both[:1], first, atol=1e-5, rtol=0)

    def test_rejects_bad_sizes_and_stage_counts(self):
        self.net.eval()
        with self.assertRaisesRegex(ValueError, "multiples of 16"):
            self.net(torch.rand(1, 3, 24, 32), stages=3)
        for stages in (0, 6):
            with self.assertRaisesRegex(ValueError, "stages must be"):
                self.net(torch.rand(1, 3, 64, 64), stages=stages)

    def test_no_nan_or_inf_on_degenerate_images(self):
        """Flat images have an all-zero spectrum apart from DC: log, angle
        and the phase normalisation must stay finite."""
        self.net.eval()
        bright_pixel = torch.zeros(1, 3, 32, 32)
        bright_pixel[:, :, 13, 21] = 1.0
        cases = {
            "black": torch.zeros(1, 3, 32, 32),
            "white": torch.ones(1, 3, 32, 32),
            "grey": torch.full((1, 3, 32, 32), 0.5),
            "single bright pixel": bright_pixel,
        }
        for name, x in cases.items():
            for stages in (1, 3):
                with self.subTest(image=name, stages=stages):
                    with torch.no_grad():
                        y = self.net(x, stages=stages)
                    self.assertTrue(torch.isfinite(y).all())

    def test_training_steps_reduce_loss_and_reach_every_module(self):
        torch.manual_seed(1)
        net = FDIKP().train()
        net.out_conv.reset_parameters()  # see setUpClass
        sharp = smooth_image(2, 32)
        blurry = box_blur(sharp, 2)
        targets = [sharp]
        for _ in range(2):
            targets.insert(0, down2(targets[0]))

        def loss_fn():
            outputs = net(blurry, stages=3)
            return sum(F.mse_loss(y, t) for y, t in zip(outputs, targets))

        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
        losses = []
        for step in range(6):
            optimiser.zero_grad()
            loss = loss_fn()
            loss.backward()
            if step == 0:
                self.assertEqual(silent_parameters(net), [],
                                 "parameters without gradient")
                for grad in (p.grad for p in net.parameters()):
                    self.assertTrue(torch.isfinite(grad).all())
            optimiser.step()
            losses.append(loss.item())
        self.assertLess(losses[-1], 0.8 * losses[0], losses)


class PredictorTest(unittest.TestCase):
    def test_each_kernel_is_its_own_softmax_group(self):
        torch.manual_seed(0)
        kernels = Predictor()(torch.randn(2, 3, 24, 24))
        self.assertEqual(tuple(kernels.shape), (2, 5, 5, 5))
        torch.testing.assert_close(kernels.sum(dim=[2, 3]),
                                   torch.ones(2, 5))
        self.assertTrue((kernels > 0).all())


class DIKPTest(unittest.TestCase):
    def test_inverse_kernel_is_the_shifted_inverse_dft(self):
        torch.manual_seed(0)
        dikp = DIKP()
        magnitude = torch.rand(2, 5, 5, 5) * 2
        phi = (torch.rand(2, 5, 5, 5) * 2 - 1) * math.pi
        spectrum = torch.polar(magnitude.double(), phi.double())
        expected = torch.fft.fftshift(torch.fft.ifft2(spectrum).real,
                                      dim=[-2, -1])
        torch.testing.assert_close(dikp.inverse_kernel(magnitude, phi),
                                   expected.float(), atol=1e-6, rtol=0)

    def test_flat_spectrum_with_zero_phase_gives_a_delta(self):
        """M = 1, phi = 0 everywhere is the identity filter."""
        dikp = DIKP()
        kernels = dikp.inverse_kernel(torch.ones(1, 1, 5, 5),
                                      torch.zeros(1, 1, 5, 5))
        delta = torch.zeros(1, 1, 5, 5)
        delta[0, 0, 2, 2] = 1.0
        torch.testing.assert_close(kernels, delta, atol=1e-6, rtol=0)


class PACTest(unittest.TestCase):
    def pac_with_dilation(self, dilation: float) -> PAC:
        pac = PAC()
        with torch.no_grad():
            pac.dilation.weight.zero_()
            # D = 1 + 3 sigmoid(b): solve for the wanted constant D.
            share = (dilation - 1.0) / 3.0
            bias = -100.0 if share == 0 else math.log(share / (1 - share))
            pac.dilation.bias.fill_(bias)
        return pac

    def test_unit_dilation_is_a_plain_convolution(self):
        torch.manual_seed(0)
        z = torch.rand(2, 3, 12, 9)
        kernels = torch.randn(2, 5, 5, 5)
        out = self.pac_with_dilation(1.0)(z, kernels)
        self.assertEqual(tuple(out.shape), (2, 18, 12, 9))
        out = out.view(2, 3, 6, 12, 9)
        torch.testing.assert_close(out[:, :, 0], z)
        padded = F.pad(z, [2, 2, 2, 2], mode="replicate")
        for b in range(2):
            expected = F.conv2d(padded[b].unsqueeze(1),
                                kernels[b].unsqueeze(1))
            torch.testing.assert_close(out[b, :, 1:], expected,
                                       atol=1e-5, rtol=0)

    def test_dilation_spreads_the_taps(self):
        torch.manual_seed(0)
        z = torch.rand(1, 3, 20, 20)
        kernels = torch.randn(1, 5, 5, 5)
        out = self.pac_with_dilation(2.0)(z, kernels).view(1, 3, 6, 20, 20)
        expected = F.conv2d(z[0].unsqueeze(1), kernels[0].unsqueeze(1),
                            dilation=2)
        # Away from the border, where border padding changes nothing.
        torch.testing.assert_close(out[0, :, 1:, 4:-4, 4:-4], expected,
                                   atol=1e-5, rtol=0)

    def test_one_image_path_gives_the_batch_paths_numbers(self):
        # One image takes its own path (its taps as grid_sample's batch): bit
        # for bit the batched path's numbers, eager and scripted, also for
        # channels-last input (the engine's).
        torch.manual_seed(0)
        pac = self.pac_with_dilation(1.7)
        with torch.no_grad():
            pac.dilation.weight.normal_(0, 0.3)
        scripted = torch.jit.script(pac)
        kernels = torch.randn(1, 5, 5, 5)
        for z in (torch.rand(1, 3, 13, 17), torch.rand(1, 3, 40, 32).contiguous(
                memory_format=torch.channels_last)):
            with torch.no_grad():
                grid = pac.tap_grid(z)
                expected = pac.filter_batch(z, grid, kernels)
                for net in (pac, scripted):
                    self.assertTrue(torch.equal(
                        net.filter_one(z, grid, kernels), expected))
                    out = net(z, kernels).view(1, 3, 6, -1)
                    self.assertTrue(torch.equal(out[:, :, 1:], expected))

    def test_the_grid_is_each_pixel_plus_its_tap_offset_times_the_dilation(self):
        # tap_grid computes (2 p + 1) / size - 1 once and adds the scaled
        # offsets in one pass; the same grid as normalising p + o D.
        torch.manual_seed(0)
        pac = self.pac_with_dilation(1.7)
        with torch.no_grad():
            pac.dilation.weight.normal_(0, 0.3)
            z = torch.rand(2, 3, 13, 17)
            grid = pac.tap_grid(z)
            dilation = pac.dilation_map(z)
        ys, xs = torch.meshgrid(torch.arange(13.0), torch.arange(17.0), indexing="ij")
        pixel = torch.stack([xs, ys], dim=2)
        where = pixel + pac.tap_offsets.view(25, 1, 1, 2) * dilation.view(2, 1, 13, 17, 1)
        expected = (2.0 * where + 1.0) / torch.tensor([17.0, 13.0]) - 1.0
        self.assertEqual(grid.shape, (2, 25, 13, 17, 2))
        torch.testing.assert_close(grid, expected, atol=1e-6, rtol=0)

    def test_dilation_starts_near_one(self):
        torch.manual_seed(0)
        d = PAC().dilation_map(torch.rand(1, 3, 16, 16))
        self.assertTrue(((d >= 1.0) & (d < 1.3)).all())


class ToneTest(unittest.TestCase):
    """keep_tone: the input's coarse content (tone) stays, the network's
    fine detail stays, and the option travels with the configuration."""

    def test_blur_is_close_to_an_exact_gaussian(self):
        sigma = 32.0
        impulse = torch.zeros(1, 1, 257, 263)
        impulse[0, 0, 128, 131] = 1.0
        response = gaussian_blur(impulse, sigma)[0, 0]
        self.assertEqual(tuple(response.shape), (257, 263))
        self.assertAlmostEqual(float(response.sum()), 1.0, delta=1e-3)
        rows = torch.arange(257.0)[:, None] - 128
        columns = torch.arange(263.0)[None, :] - 131
        # Centred within half a block (sigma / 8: the field is block
        # averaged first), spread within 5 % of sigma on each axis.
        self.assertLessEqual(abs(float((response * rows).sum())), 4.0)
        self.assertLessEqual(abs(float((response * columns).sum())), 4.0)
        for offsets in (rows, columns):
            spread = float((response * offsets ** 2).sum()) ** 0.5
            self.assertAlmostEqual(spread, sigma, delta=0.05 * sigma)
        # A constant stays exactly itself, on any size (no multiple needed).
        flat = torch.full((2, 3, 37, 53), 0.4)
        torch.testing.assert_close(gaussian_blur(flat, sigma), flat)
        tiny = torch.rand(1, 3, 1, 1)
        torch.testing.assert_close(gaussian_blur(tiny, sigma), tiny)

    def test_an_offset_goes_and_fine_detail_stays(self):
        image = smooth_image(1, 256, seed=8)
        rows = torch.arange(256)[:, None]
        columns = torch.arange(256)[None, :]
        detail = 0.05 * (((rows // 2 + columns // 2) % 2) * 2.0 - 1.0)
        # The network's detail, plus a darkening of 2 levels in 255.
        restored = image + detail - 2.0 / 255.0
        kept = keep_tone(restored, image, 32.0)
        torch.testing.assert_close(kept, image + detail, atol=2e-4, rtol=0)
        # The network's own output, as it is, when there is nothing to do.
        torch.testing.assert_close(keep_tone(image, image, 32.0), image)

    def test_the_option_travels_and_off_changes_nothing(self):
        torch.manual_seed(2)
        plain = FDIKP("fdikp-s").eval()
        plain.out_conv.reset_parameters()
        config = dataclasses.replace(plain.config, tone_sigma=16)
        toned = FDIKP(config).eval()
        toned.load_state_dict(plain.state_dict())
        self.assertEqual(network_config(config.to_dict()), config)
        self.assertEqual(config.to_dict()["tone_sigma"], 16.0)
        # Configurations stored before the option existed have it off.
        stored = plain.config.to_dict()
        del stored["tone_sigma"]
        self.assertEqual(network_config(stored).tone_sigma, 0.0)
        with self.assertRaisesRegex(ValueError, "tone_sigma"):
            NetworkConfig(tone_sigma=-1)
        x = smooth_image(1, 64, seed=9)
        with torch.no_grad():
            before, after = plain(x, 3), toned(x, 3)
            self.assertFalse(torch.equal(before, after))
            torch.testing.assert_close(after, keep_tone(before, x, 16.0))
            # Training sees it in the finest output only.
            outputs = toned.train()(x, 3)
            reference = plain.train()(x, 3)
            for got, want in zip(outputs[:-1], reference[:-1]):
                self.assertTrue(torch.equal(got, want))


class PaddingTest(unittest.TestCase):
    def test_pad_and_crop_round_trip(self):
        x = torch.rand(1, 3, 17, 23)
        padded, height, width = pad_to_multiple(x, 16)
        self.assertEqual(tuple(padded.shape), (1, 3, 32, 32))
        torch.testing.assert_close(crop(padded, height, width), x)
        # Reflection: the row after the last one mirrors the one before it.
        torch.testing.assert_close(padded[:, :, 17, :23], x[:, :, 15])

    def test_tiny_sides_are_replicated(self):
        x = torch.rand(1, 3, 1, 7)
        padded, _, _ = pad_to_multiple(x, 16)
        self.assertEqual(tuple(padded.shape), (1, 3, 16, 16))
        torch.testing.assert_close(padded[:, :, 15, :7], x[:, :, 0])
        # 9 extra columns > 6 available for reflection: replicated.
        torch.testing.assert_close(padded[:, :, 0, 15], x[:, :, 0, 6])

    def test_sizes_already_multiples_are_untouched(self):
        x = torch.rand(1, 3, 32, 48)
        padded, _, _ = pad_to_multiple(x, 16)
        self.assertIs(padded, x)


if __name__ == "__main__":
    unittest.main()
