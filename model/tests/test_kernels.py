"""Kernels measured on real pairs, and the generator's bank mode
(fdikp.kernels, fdikp.aperture.resample, fdikp.synth)."""

import math
import os
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from fdikp import kernels, synth
from fdikp.aperture import Aperture, disc_radius, psf, resample

DATA = synth.data_dir()
PAIRS = os.path.join(DATA, "dpdd1024-dev")
HAVE_PAIRS = os.path.isdir(os.path.join(PAIRS, "blur"))
HAVE_PHOTOS = os.path.isdir(os.path.join(DATA, "train-photos"))
NO_PAIRS = "no real pairs at %s (set FDIKP_DATA)" % PAIRS
NO_PHOTOS = "no training photos at %s (set FDIKP_DATA)" % DATA


def disc(radius, squeeze=1.0, size=kernels.SUPPORT):
    """A soft uniform disc (psf), x scaled by squeeze: (size, size)."""
    aperture = Aperture.round(1)
    aperture.squeeze = torch.tensor([squeeze])
    return psf(torch.tensor([[float(radius)]]), aperture, size)[0, 0]


def texture(side, seed=0):
    """A random sRGB image with a photo-like 1/f spectrum: (3, side, side)
    in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(3, side, side, generator=generator)
    fy = torch.fft.fftfreq(side)[:, None]
    fx = torch.fft.rfftfreq(side)[None, :]
    shaping = 1.0 / torch.sqrt(fx ** 2 + fy ** 2).clamp_min(1.0 / side)
    image = torch.fft.irfft2(torch.fft.rfft2(noise) * shaping, s=(side, side))
    image = image - image.mean(dim=(1, 2), keepdim=True)
    return (0.45 + 0.18 * image / image.std()).clamp(0.0, 1.0)


def blur(image, kernel, gain=1.0, noise=0.0, seed=1):
    """image (sRGB) convolved in linear light with kernel (circularly),
    times gain, with Gaussian noise: what a real pair's blurry shot is."""
    side = image.shape[-1]
    size = kernel.shape[-1]
    padded = torch.roll(F.pad(kernel, (0, side - size, 0, side - size)),
                        (-(size // 2), -(size // 2)), dims=(0, 1))
    linear = torch.fft.irfft2(
        torch.fft.rfft2(synth.srgb_to_linear(image))
        * torch.fft.rfft2(padded), s=(side, side)) * gain
    generator = torch.Generator().manual_seed(seed)
    srgb = synth.linear_to_srgb(linear)
    return (srgb + noise * torch.randn(srgb.shape, generator=generator)
            ).clamp(0.0, 1.0)


def write_bank(path, folds, radii):
    """A small bank file: one disc per (fold, radius), all usable."""
    discs = torch.stack([disc(r) for r in radii])
    np.savez_compressed(
        path, kernels=discs.numpy().astype(np.float16),
        fold=np.array(folds, dtype=np.int8),
        radius=disc_radius(discs)[0].numpy(),
        usable=np.ones(len(folds), dtype=bool))


class ProjectionTest(unittest.TestCase):
    def test_projected_kernels_are_non_negative_and_sum_to_one(self):
        generator = torch.Generator().manual_seed(0)
        raw = torch.randn(5, 9, 9, generator=generator) * 0.3
        projected = kernels.project_simplex(raw)
        self.assertGreaterEqual(float(projected.min()), 0.0)
        for k in projected:
            self.assertAlmostEqual(float(k.sum()), 1.0, places=5)

    def test_a_kernel_already_on_the_simplex_stays(self):
        k = disc(3.0, size=9)
        self.assertTrue(torch.allclose(kernels.project_simplex(k), k,
                                       atol=1e-6))

    def test_clean_drops_a_scattered_floor(self):
        k = disc(4.0)
        floor = torch.zeros_like(k)
        floor[::6, ::6] = 0.002    # isolated specks far out
        cleaned = kernels.clean((k + floor) / (k + floor).sum())
        self.assertAlmostEqual(float(cleaned.sum()), 1.0, places=5)
        self.assertEqual(float(cleaned[0, 0]), 0.0)
        self.assertAlmostEqual(float(disc_radius(cleaned)[0]),
                               float(disc_radius(k)[0]), delta=0.2)


class RadiusTest(unittest.TestCase):
    def test_a_disc_measures_its_radius(self):
        for r in (3.0, 6.0, 12.0):
            radius, radius_x, radius_y = disc_radius(disc(r))
            # The soft edge and the pixel grid add a little.
            self.assertAlmostEqual(float(radius), r, delta=0.1 * r + 0.2)
            self.assertAlmostEqual(float(radius_x), float(radius_y),
                                   delta=0.05)

    def test_a_squeezed_disc_measures_its_axes(self):
        _, radius_x, radius_y = disc_radius(disc(10.0, squeeze=0.6))
        self.assertAlmostEqual(float(radius_x / radius_y), 0.6, delta=0.05)


class EstimationTest(unittest.TestCase):
    """Known kernels are recovered from a synthetic pair: radius within
    5 % (+ 0.3 px), the squeeze within 0.05."""

    def check(self, radius, squeeze):
        sharp = texture(384)
        truth = disc(radius, squeeze)
        blurry = blur(sharp, truth, gain=0.9, noise=0.5 / 255)
        result = kernels.estimate_pair(blurry, sharp, grid=2)
        self.assertTrue(bool(result["usable"].all()), result["psnr_fit"])
        want, want_x, want_y = (float(v) for v in disc_radius(truth))
        for got, (got_x, got_y) in zip(result["radius"],
                                       result["radius_xy"]):
            self.assertAlmostEqual(float(got), want,
                                   delta=0.05 * want + 0.3)
            self.assertAlmostEqual(float(got_x / got_y), want_x / want_y,
                                   delta=0.05)
        self.assertTrue(torch.allclose(result["patch_gain"],
                                       torch.full((4, 3), 0.9), atol=0.02))
        k = result["kernels"]
        self.assertGreaterEqual(float(k.min()), 0.0)
        self.assertTrue(torch.allclose(k.sum(dim=(-2, -1)),
                                       torch.ones(4), atol=1e-5))

    def test_a_disc_is_recovered(self):
        self.check(6.0, 1.0)

    def test_a_squeezed_disc_is_recovered(self):
        self.check(9.0, 0.65)

    def test_noise_level_reads_added_noise(self):
        image = torch.full((3, 256, 256), 0.5)
        generator = torch.Generator().manual_seed(3)
        noisy = synth.quantise(
            image + 3.0 / 255 * torch.randn(image.shape, generator=generator))
        self.assertAlmostEqual(float(kernels.noise_level(noisy).mean()), 3.0,
                               delta=0.2)


class ResampleTest(unittest.TestCase):
    def setUp(self):
        aperture = Aperture.round(1)
        aperture.squeeze = torch.tensor([0.65])
        aperture.cats_eye_x = torch.tensor([0.4])
        self.kernel = psf(torch.tensor([[7.0]]), aperture, 41)[:, 0]
        _, rx, ry = disc_radius(self.kernel)
        self.squeeze = float(rx / ry)
        self.no = torch.tensor([False])

    def resampled(self, radii, flip_x=False, rotation=0.0, size=41):
        return resample(self.kernel, torch.tensor([radii]),
                        torch.tensor([flip_x]), self.no,
                        torch.tensor([rotation]), size)[0]

    def test_radius_zero_is_an_exact_delta(self):
        k = self.resampled([0.0], size=35)[0]
        self.assertEqual(float(k[17, 17]), 1.0)
        self.assertEqual(float(k.sum()), 1.0)

    def test_kernels_scale_to_the_requested_radius(self):
        requested = [2.0, 4.0, 7.0, 10.0, 14.0]
        out = self.resampled(requested)
        self.assertGreaterEqual(float(out.min()), 0.0)
        for k, r in zip(out, requested):
            self.assertAlmostEqual(float(k.sum()), 1.0, places=5)
            self.assertAlmostEqual(float(disc_radius(k)[0]), r,
                                   delta=0.08 * r + 0.3)
            # the shape (its squeeze) survives the scaling
            _, rx, ry = disc_radius(k)
            self.assertAlmostEqual(float(rx / ry), self.squeeze,
                                   delta=0.06)

    def test_flips_and_turns_move_the_shape(self):
        own = float(disc_radius(self.kernel)[0])
        flipped = self.resampled([own * 1.0001], flip_x=True)[0]
        self.assertTrue(torch.allclose(flipped, self.kernel[0].flip(-1),
                                       atol=1e-4))
        turned = self.resampled([own * 0.9999], rotation=math.pi / 2)[0]
        self.assertTrue(torch.allclose(turned,
                                       torch.rot90(self.kernel[0], -1),
                                       atol=1e-4))


class BankTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.folder.name, "bank.npz")
        # fold f holds discs of radius 3 + f and 3.5 + f
        folds = [0, 0, 1, 1, 2, 2]
        write_bank(self.path, folds, [3 + f + 0.5 * (i % 2)
                                      for i, f in enumerate(folds)])

    def tearDown(self):
        self.folder.cleanup()

    def test_only_the_allowed_folds_kernels_are_loaded(self):
        everything = synth.load_bank(self.path)
        self.assertEqual(len(everything), 6)
        allowed = synth.load_bank(self.path, "0,2")
        radii = disc_radius(allowed)[0]
        self.assertEqual(len(allowed), 4)
        self.assertTrue(bool(((radii < 4.2) | (radii > 4.8)).all()), radii)
        with self.assertRaises(ValueError):
            synth.load_bank(self.path, "4")

    def test_bank_draws_are_seeded_and_from_the_bank(self):
        config = synth.SynthConfig(bank_share=0.5)
        bank = synth.load_bank(self.path, "1")

        def draw(seed):
            return synth.draw_bank(config, bank, 64,
                                   torch.Generator().manual_seed(seed))

        first, again, other = draw(11), draw(11), draw(12)
        for key in first:
            self.assertTrue(torch.equal(first[key], again[key]), key)
        self.assertFalse(torch.equal(first["bank_kernel"],
                                     other["bank_kernel"]))
        for k in first["bank_kernel"]:
            self.assertTrue(any(torch.equal(k, b) for b in bank))
        share = float(first["bank_use"].float().mean())
        self.assertGreater(share, 0.3)
        self.assertLess(share, 0.7)
        self.assertLessEqual(float(first["bank_rotation"].abs().max()),
                             synth.BANK_ROTATION)

    @unittest.skipUnless(HAVE_PHOTOS, NO_PHOTOS)
    def test_a_bank_generator_uses_its_folds_and_is_deterministic(self):
        config = synth.SynthConfig(bank_share=1.0, kernel_bank=self.path,
                                   bank_folds="1")
        generator = synth.DefocusSynth(DATA, config, seed=4)
        radii = disc_radius(generator.bank)[0]
        self.assertEqual(len(radii), 2)
        self.assertTrue(bool(((radii > 3.8) & (radii < 4.8)).all()), radii)
        first = generator.batch(2, 2, 32)
        again = synth.DefocusSynth(DATA, config, seed=4).batch(2, 2, 32)
        self.assertTrue(torch.equal(first[0], again[0]))
        # Only the kernels change: same scenes and sharp targets.
        plain = synth.DefocusSynth(DATA, seed=4).batch(2, 2, 32)
        self.assertTrue(torch.equal(first[1], plain[1]))
        self.assertFalse(torch.equal(first[0], plain[0]))

    @unittest.skipUnless(HAVE_PHOTOS, NO_PHOTOS)
    def test_bank_share_zero_leaves_batches_unchanged(self):
        config = synth.SynthConfig(bank_share=0.0, kernel_bank=self.path)
        with_bank = synth.DefocusSynth(DATA, config, seed=3).batch(1, 2, 48)
        default = synth.DefocusSynth(DATA, seed=3).batch(1, 2, 48)
        self.assertTrue(torch.equal(with_bank[0], default[0]))
        self.assertTrue(torch.equal(with_bank[1], default[1]))


@unittest.skipUnless(HAVE_PAIRS, NO_PAIRS)
class RealPairTest(unittest.TestCase):
    def test_real_kernels_are_squeezed_like_the_resize(self):
        # DPDD's 1680 x 1120 frames were squeezed to 1024 x 1024:
        # round kernels become ellipses 0.61 / 0.914 = 0.67 as wide as tall.
        name = sorted(os.listdir(os.path.join(PAIRS, "blur")))[2]
        pair = [kernels.load_image(os.path.join(PAIRS, sub, name))
                for sub in ("blur", "sharp")]
        result = kernels.estimate_pair(*pair, grid=3)
        usable = result["usable"] & (result["radius"] >= 3.0)
        self.assertGreaterEqual(int(usable.sum()), 3)
        ratio = result["radius_xy"][usable, 0] / result["radius_xy"][usable, 1]
        self.assertLess(float(ratio.median()), 0.9)

    @unittest.skipUnless(os.path.isfile(kernels.bank_file()),
                         "no committed bank at " + kernels.bank_file())
    def test_the_committed_bank_loads_and_is_small(self):
        self.assertLess(os.path.getsize(kernels.bank_file()), 4 << 20)
        bank = synth.load_bank()
        self.assertGreater(len(bank), 100)
        self.assertTrue(torch.allclose(bank.sum(dim=(-2, -1)),
                                       torch.ones(len(bank)), atol=1e-3))


if __name__ == "__main__":
    unittest.main()
