"""PSNR / SSIM / MAE give the known answers, and fdikp.evaluate scores
folders of pairs (fdikp.metrics, fdikp.evaluate)."""

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import torch
from PIL import Image

from fdikp import evaluate, image_io, metrics, per_image
from fdikp.synth import data_dir

DPDD = os.path.join(data_dir(), "dpdd1024-dev")


def constant(value, size=32):
    return torch.full((1, 3, size, size), float(value))


class MetricsTest(unittest.TestCase):
    def test_image_against_itself(self):
        generator = torch.Generator().manual_seed(0)
        image = torch.rand(2, 3, 40, 40, generator=generator)
        self.assertTrue(torch.isinf(metrics.psnr(image, image)).all())
        self.assertTrue(torch.allclose(metrics.ssim(image, image),
                                       torch.ones(2, dtype=torch.float64)))
        self.assertEqual(float(metrics.mae(image, image).max()), 0.0)

    def test_constant_offset_of_a_tenth_is_20_db(self):
        self.assertAlmostEqual(float(metrics.psnr(constant(0.4),
                                                  constant(0.3))), 20.0, 5)
        self.assertAlmostEqual(float(metrics.mae(constant(0.4),
                                                 constant(0.3))), 0.1, 6)

    def test_known_mse_gives_known_psnr(self):
        reference = constant(0.5, 64)
        signs = torch.ones(64, 64)
        signs[::2] = -1.0
        for mse, expected in ((1e-3, 30.0), (1e-4, 40.0)):
            estimate = reference + math.sqrt(mse) * signs
            self.assertAlmostEqual(float(metrics.psnr(estimate, reference)),
                                   expected, 4)

    def test_values_are_clamped_to_the_unit_range(self):
        self.assertTrue(torch.isinf(metrics.psnr(constant(1.5),
                                                 constant(1.0))).all())

    def test_ssim_of_flat_images_is_the_luminance_term(self):
        c1 = metrics.SSIM_K1 ** 2
        expected = (2 * 0.4 * 0.3 + c1) / (0.4 ** 2 + 0.3 ** 2 + c1)
        self.assertAlmostEqual(float(metrics.ssim(constant(0.4),
                                                  constant(0.3))), expected, 6)

    def test_ssim_drops_with_noise(self):
        generator = torch.Generator().manual_seed(1)
        image = torch.rand(1, 3, 48, 48, generator=generator)
        scores = [float(metrics.ssim(image + s * torch.randn(
            image.shape, generator=generator), image)) for s in (0.02, 0.1)]
        self.assertLess(scores[1], scores[0])
        self.assertLess(scores[0], 1.0)


class EvaluateTest(unittest.TestCase):
    def test_identity_scores_the_input_on_a_folder_of_pairs(self):
        with tempfile.TemporaryDirectory() as folder:
            for sub, value in (("blur", 102), ("sharp", 128)):
                os.makedirs(os.path.join(folder, sub))
                Image.new("RGB", (24, 24), (value,) * 3).save(
                    os.path.join(folder, sub, "a.png"))
            out = os.path.join(folder, "scores.json")
            self.assertEqual(evaluate.main(
                ["--model", "identity", "--pairs", folder, "--json", out]), 0)
            with open(out) as f:
                result = json.load(f)
        self.assertEqual(result["count"], 1)
        expected = -10 * math.log10((26 / 255) ** 2)
        self.assertAlmostEqual(result["mean"]["input"]["psnr"], expected, 4)
        self.assertEqual(result["mean"]["input"], result["mean"]["model"])

    def test_a_file_that_is_not_a_model_is_refused_with_its_name(self):
        with tempfile.TemporaryDirectory() as folder:
            broken = os.path.join(folder, "broken.pt")
            with open(broken, "wb") as f:
                f.write(b"not a model")
            errors = io.StringIO()
            with contextlib.redirect_stderr(errors):
                self.assertEqual(evaluate.main(
                    ["--model", broken, "--pairs", folder]), 1)
        self.assertIn("cannot load model " + broken, errors.getvalue())

    @unittest.skipUnless(os.path.isdir(DPDD),
                         "no dpdd1024-dev at %s (set FDIKP_DATA)" % DPDD)
    def test_first_dpdd_pair_input_scores(self):
        # The full set's blurry input scores 24.37 dB / 0.763 (data README);
        # one pair keeps this test short.
        result = evaluate.evaluate_pairs(lambda x: x, DPDD, limit=1)
        scores = result["images"][0]["input"]
        self.assertAlmostEqual(scores["psnr"], 25.8637, 3)
        self.assertAlmostEqual(scores["ssim"], 0.69920, 4)


class PerImageTest(unittest.TestCase):
    def test_the_report_tells_a_mean_psnr_loss_from_a_pooled_mse_gain(self):
        # Image 0 heavily blurred and halved in error by the "model";
        # image 1 almost sharp and damaged by a small error: the pooled
        # MSE improves while the mean PSNR drops.
        generator = torch.Generator().manual_seed(0)
        sharp = torch.rand(2, 3, 16, 16, generator=generator) * 0.5 + 0.25
        error = torch.randn(2, 3, 16, 16, generator=generator)
        blurry = sharp + torch.stack([0.2 * error[0], 0.001 * error[1]])
        restored = sharp + torch.stack([0.1 * error[0], 0.03 * error[1]])
        result = per_image.report(blurry, sharp, restored, sharp.clone())
        self.assertEqual([r["input_psnr"] for r in result["rows"]],
                         sorted(r["input_psnr"] for r in result["rows"]))
        # about 6 dB (less where clamping to [0, 1] trims the error)
        self.assertAlmostEqual(result["rows"][0]["gain"],
                               20 * math.log10(2), delta=0.5)
        self.assertLess(result["mean_gain_db"], 0)
        self.assertGreater(result["pooled_mse_gain_db"], 0)
        self.assertEqual(result["improved"], 1)
        self.assertEqual(result["sharp_in_mean_psnr"], 100)
        self.assertAlmostEqual(result["blurrier_half_gain_db"],
                               result["rows"][0]["gain"])
        self.assertNotIn("by_radius", result)

    def test_the_report_groups_the_gain_by_each_crops_blur_radius(self):
        generator = torch.Generator().manual_seed(1)
        sharp = torch.rand(3, 3, 16, 16, generator=generator) * 0.5 + 0.25
        error = torch.randn(3, 3, 16, 16, generator=generator)
        # crop 0 the blurriest (radius 13 px), 1 the least (2 px), 2 between
        blurry = sharp + torch.stack([0.2 * error[0], 0.01 * error[1],
                                      0.05 * error[2]])
        restored = sharp + torch.stack([0.1 * error[0], 0.02 * error[1],
                                        0.05 * error[2]])
        result = per_image.report(blurry, sharp, restored, sharp.clone(),
                                  torch.tensor([13.0, 2.0, 4.0]))
        # rows sorted by input PSNR carry their own crop's radius
        self.assertEqual([r["blur_radius"] for r in result["rows"]],
                         [13.0, 4.0, 2.0])
        bins = result["by_radius"]
        self.assertEqual([(b["from_px"], b["to_px"], b["count"])
                          for b in bins], [(0.0, 6.0, 2), (12.0, 18.0, 1)])
        self.assertAlmostEqual(bins[1]["mean_gain_db"],
                               result["rows"][0]["gain"])
        self.assertEqual(bins[1]["improved"], 1)
        self.assertAlmostEqual(bins[0]["mean_gain_db"],
                               (result["rows"][1]["gain"]
                                + result["rows"][2]["gain"]) / 2)
        self.assertEqual(bins[0]["improved"], 0)


class ImageIOTest(unittest.TestCase):
    def test_the_tools_share_image_io_without_importing_each_other(self):
        code = ("import sys, fdikp.contact_sheet; "
                "assert 'fdikp.evaluate' not in sys.modules, 'contact_sheet imports evaluate'")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIs(evaluate.load_image, image_io.load_image)


if __name__ == "__main__":
    unittest.main()
