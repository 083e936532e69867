"""The synthetic defocus generator behaves like a lens (fdikp.synth)."""

import os
import unittest

import torch

from fdikp import synth
from fdikp.aperture import Aperture, kernel_size, psf
from fdikp.depth import fill_holes

DATA = synth.data_dir()
HAVE_PHOTOS = os.path.isdir(os.path.join(DATA, "train-photos"))
NO_DATA = "no training photos at %s (set FDIKP_DATA)" % DATA


def high_frequency_energy(image):
    """Mean squared Laplacian response: what blur removes first."""
    lap = (4 * image[..., 1:-1, 1:-1] - image[..., :-2, 1:-1]
           - image[..., 2:, 1:-1] - image[..., 1:-1, :-2]
           - image[..., 1:-1, 2:])
    return float((lap ** 2).mean())


def render(image, depth, focus, strength, bins=8, max_radius=8.0):
    batch = image.shape[0]
    return synth.render_defocus(
        image, depth, torch.full((batch,), float(focus)),
        torch.full((batch,), float(strength)), Aperture.round(batch),
        bins, max_radius)


class DihedralTest(unittest.TestCase):
    def test_the_eight_choices_are_the_eight_flips_and_rotations(self):
        image = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
        results = [synth.dihedral_transform(image, c) for c in range(8)]
        self.assertTrue(torch.equal(results[0], image))
        self.assertTrue(torch.equal(results[1], image.flip(-1)))
        self.assertTrue(torch.equal(results[4], image.transpose(-1, -2)))
        self.assertTrue(torch.equal(results[3], torch.rot90(image, 2, (-2, -1))))
        distinct = {tuple(r.flatten().tolist()) for r in results}
        self.assertEqual(len(distinct), 8)


class ApertureTest(unittest.TestCase):
    def test_zero_radius_is_a_delta_and_kernels_sum_to_one(self):
        size = kernel_size(8)
        kernels = psf(torch.tensor([[0.0, 3.0, 8.0]]), Aperture.round(1), size)
        self.assertEqual(float(kernels[0, 0, size // 2, size // 2]), 1.0)
        for k in kernels[0]:
            self.assertAlmostEqual(float(k.sum()), 1.0, places=5)

    def test_larger_radius_spreads_wider(self):
        size = kernel_size(8)
        kernels = psf(torch.tensor([[2.0, 6.0]]), Aperture.round(1), size)
        axis = torch.arange(size) - size // 2
        spread = [float((k * (axis[:, None] ** 2 + axis[None] ** 2)).sum())
                  for k in kernels[0]]
        self.assertGreater(spread[1], 4 * spread[0])


class RenderTest(unittest.TestCase):
    def setUp(self):
        generator = torch.Generator().manual_seed(0)
        self.image = torch.rand(1, 3, 64, 64, generator=generator)

    def test_in_focus_depth_gives_back_the_sharp_image(self):
        depth = torch.rand(1, 1, 64, 64)
        self.assertTrue(torch.allclose(render(self.image, depth, 0.5, 0.0),
                                       self.image, atol=1e-5))

    def test_larger_circles_of_confusion_blur_more(self):
        depth = torch.zeros(1, 1, 64, 64)
        energies = [high_frequency_energy(render(self.image, depth, 1.0, r))
                    for r in (0.0, 1.0, 2.0, 4.0, 8.0)]
        for sharper, blurrier in zip(energies, energies[1:]):
            self.assertLess(blurrier, 0.7 * sharper)

    def test_blurred_foreground_spills_over_sharp_background(self):
        image, depth = self.two_layers()
        out = render(image, depth, focus=0.0, strength=6.0)  # near blurred
        # Background (red) just outside the square turns partly green.
        self.assertGreater(float(out[0, 1, 32, 22]), 0.25)
        # ... and the square's own edge turns see-through: the wall behind
        # it shows (partial occlusion).
        self.assertLess(float(out[0, 1, 32, 24]), 0.85)
        self.assertGreater(float(out[0, 0, 32, 24]), 0.15)
        # Far from the square the background stays untouched.
        self.assertLess(float(out[0, 1, 32, 4]), 1e-4)

    def test_sharp_foreground_hides_blurred_background(self):
        image, depth = self.two_layers()
        out = render(image, depth, focus=1.0, strength=6.0)  # far blurred
        # The in-focus square keeps its edge: no red bleeds into it and
        # no green bleeds out of it.
        inside, outside = out[0, :, 32, 24], out[0, :, 32, 23]
        self.assertTrue(torch.allclose(inside, torch.tensor([0., 1., 0.]),
                                       atol=1e-4))
        self.assertTrue(torch.allclose(outside, torch.tensor([1., 0., 0.]),
                                       atol=1e-4))

    @staticmethod
    def two_layers():
        """Red far wall (q = 0), green near square (q = 1) in the middle."""
        image = torch.zeros(1, 3, 64, 64)
        image[:, 0] = 1.0
        depth = torch.zeros(1, 1, 64, 64)
        depth[..., 24:40, 24:40] = 1.0
        image[:, :, 24:40, 24:40] = torch.tensor([0., 1., 0.])[:, None, None]
        return image, depth


class DepthTest(unittest.TestCase):
    def test_holes_are_filled_from_their_neighbours(self):
        values = torch.full((5, 5), 2.0)
        values[1:4, 1:4] = float("nan")
        filled = fill_holes(values)
        self.assertTrue(torch.isfinite(filled).all())
        self.assertTrue(torch.allclose(filled, torch.full((5, 5), 2.0)))


@unittest.skipUnless(HAVE_PHOTOS, NO_DATA)
class GeneratorTest(unittest.TestCase):
    def test_same_seed_same_pair(self):
        first = synth.DefocusSynth(DATA, seed=7).batch(3, 2, 48)
        again = synth.DefocusSynth(DATA, seed=7).batch(3, 2, 48)
        other = synth.DefocusSynth(DATA, seed=7).batch(4, 2, 48)
        self.assertTrue(torch.equal(first[0], again[0]))
        self.assertTrue(torch.equal(first[1], again[1]))
        self.assertFalse(torch.equal(first[1], other[1]))

    def test_pairs_are_8_bit_images_in_range(self):
        blurry, sharp = synth.DefocusSynth(DATA, seed=1).batch(0, 2, 32)
        self.assertEqual(tuple(blurry.shape), (2, 3, 32, 32))
        for image in (blurry, sharp):
            self.assertGreaterEqual(float(image.min()), 0.0)
            self.assertLessEqual(float(image.max()), 1.0)
            self.assertTrue(torch.equal(image, synth.quantise(image)))

    def test_validation_pairs_are_the_set_with_each_largest_radius(self):
        blurry, sharp = synth.validation_set(DATA, 3, 32, seed=5)
        again, same, radii = synth.validation_pairs(DATA, 3, 32, seed=5)
        self.assertTrue(torch.equal(blurry, again))
        self.assertTrue(torch.equal(sharp, same))
        self.assertEqual(tuple(radii.shape), (3,))
        self.assertTrue(bool(((radii >= 0) & (radii <= 16.0)).all()))
        config = synth.SynthConfig(max_radius=8.0, radius_skew=0.01,
                                   p_sharp=0.0)
        radii = synth.validation_pairs(DATA, 2, 32, seed=5, config=config)[2]
        # u^0.01 is close to 1 for almost every u: radii near the maximum
        self.assertTrue(bool(((radii > 7.0) & (radii <= 8.0)).all()), radii)
        sharp_only = synth.SynthConfig(p_sharp=1.0)
        radii = synth.validation_pairs(DATA, 2, 32, seed=5,
                                       config=sharp_only)[2]
        self.assertTrue(torch.equal(radii, torch.zeros(2)))

    def test_no_blur_and_no_noise_gives_back_the_target(self):
        config = synth.SynthConfig(p_sharp=1.0, noise=False)
        blurry, sharp = synth.DefocusSynth(DATA, config, seed=2).batch(
            0, 2, 32)
        self.assertLessEqual(float((blurry - sharp).abs().max()),
                             1.0 / 255 + 1e-6)


class ColourTest(unittest.TestCase):
    def test_srgb_round_trip(self):
        x = torch.linspace(0, 1, 101)
        back = synth.linear_to_srgb(synth.srgb_to_linear(x))
        self.assertTrue(torch.allclose(back, x, atol=1e-5))
        self.assertAlmostEqual(float(synth.srgb_to_linear(
            torch.tensor(0.5))), 0.21404, places=4)


if __name__ == "__main__":
    unittest.main()
