"""fdikp.tone_check: a model's change of tone on pairs, and its scores with
the input's tone put back after the fact."""

import contextlib
import io
import json
import os
import tempfile
import unittest

import torch
import torch.nn.functional as F

from fdikp import tone_check
from fdikp.synth import save_png

torch.set_num_threads(2)


def photo(seed: int, size: int = 96) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, size // 8, size // 8, generator=gen)
    return F.interpolate(coarse, size=[size, size], mode="bicubic",
                         align_corners=False).clamp(0.05, 0.95)


class ToneCheckTest(unittest.TestCase):
    def test_exact_gaussian_keeps_constants_and_spreads_by_sigma(self):
        flat = torch.full((1, 3, 40, 50), 0.3)
        torch.testing.assert_close(tone_check.exact_gaussian(flat, 8.0), flat)
        impulse = torch.zeros(1, 1, 81, 81)
        impulse[0, 0, 40, 40] = 1.0
        response = tone_check.exact_gaussian(impulse, 6.0)[0, 0]
        offsets = torch.arange(81.0) - 40
        spread = float((response.sum(1) * offsets ** 2).sum()) ** 0.5
        self.assertAlmostEqual(spread, 6.0, delta=0.1)
        # Sides too short to reflect are repeated instead.
        tiny = torch.rand(1, 3, 2, 3)
        self.assertEqual(tone_check.exact_gaussian(tiny, 4.0).shape,
                         tiny.shape)

    def test_a_tone_shift_is_taken_back_and_detail_kept(self):
        blurry = photo(1)
        detail = 0.03 * torch.sign(torch.randn(1, 3, 96, 96,
                                               generator=torch.Generator()
                                               .manual_seed(2)))
        restored = blurry + detail - 0.01
        variants = tone_check.tone_variants(blurry, restored, [16.0])
        self.assertTrue(torch.equal(variants["raw"], restored))
        torch.testing.assert_close(variants["mean"], blurry + detail
                                   - detail.mean((2, 3), keepdim=True))
        # The noise-like detail survives the Gaussian; the offset does not.
        kept = variants["sigma 16"] - blurry
        self.assertLess(abs(float(kept.mean())), 1e-3)
        self.assertGreater(float((kept * detail).mean() / (detail ** 2).mean()),
                           0.95)

    def test_command_reports_a_darkening_model_on_pairs(self):
        with tempfile.TemporaryDirectory() as folder:
            for sub in ("blur", "sharp"):
                os.makedirs(os.path.join(folder, "pairs", sub))
            for i in range(2):
                sharp = photo(10 + i)[0]
                save_png(sharp, os.path.join(folder, "pairs", "sharp",
                                             "%d.png" % i))
                save_png(sharp, os.path.join(folder, "pairs", "blur",
                                             "%d.png" % i))
            # A "model" that only darkens by 4 levels: keeping the tone
            # gives the input back, here the sharp image itself.
            darken = torch.jit.script(Darken())
            model_file = os.path.join(folder, "darken.pt")
            darken.save(model_file)
            out = os.path.join(folder, "tone.json")
            self.assertEqual(tone_check.main(
                ["--model", model_file, "--pairs",
                 os.path.join(folder, "pairs"), "--sigmas", "8",
                 "--json", out]), 0)
            with open(out) as f:
                result = json.load(f)
            self.assertEqual(result["count"], 2)
            self.assertEqual(result["mean_input_offset_levels"], [0.0] * 3)
            for shift in result["mean_shift_levels"]:
                self.assertAlmostEqual(shift, -4.0, delta=0.05)
            mean = result["mean"]
            self.assertLess(mean["raw"]["psnr"], 40.0)
            self.assertGreater(mean["mean"]["psnr"], 60.0)
            self.assertGreater(mean["sigma 8"]["psnr"], 60.0)
            self.assertEqual(tone_check.main(
                ["--model", model_file, "--pairs",
                 os.path.join(folder, "absent")]), 2)
            broken = os.path.join(folder, "broken.pt")
            with open(broken, "wb") as f:
                f.write(b"not a model")
            errors = io.StringIO()
            with contextlib.redirect_stderr(errors):
                self.assertEqual(tone_check.main(
                    ["--model", broken, "--pairs",
                     os.path.join(folder, "pairs")]), 1)
            self.assertIn("cannot load model " + broken, errors.getvalue())


class OracleTest(unittest.TestCase):
    def test_the_oracle_keeps_the_inputs_tone_and_nothing_else(self):
        """--model oracle scores the reference with the input's tone: a
        pair that differs only in exposure scores as the input does (all of
        its error is tone), and the input with the reference's tone is the
        reference."""
        with tempfile.TemporaryDirectory() as folder:
            for sub in ("blur", "sharp"):
                os.makedirs(os.path.join(folder, sub))
            sharp = photo(5)[0]
            save_png(sharp, os.path.join(folder, "sharp", "a.png"))
            save_png((sharp - 0.04).clamp(0, 1), os.path.join(folder, "blur", "a.png"))
            out = os.path.join(folder, "oracle.json")
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(tone_check.main(
                    ["--model", "oracle", "--pairs", folder, "--sigmas", "16",
                     "--json", out]), 0)
            with open(out) as f:
                mean = json.load(f)["mean"]
        self.assertNotIn("raw", mean)
        self.assertAlmostEqual(mean["sigma 16"]["psnr"], mean["input"]["psnr"], delta=0.3)
        self.assertGreater(mean["input, reference tone, sigma 16"]["psnr"], 45.0)


class Darken(torch.nn.Module):
    def forward(self, image: torch.Tensor, stages: int) -> torch.Tensor:
        return image - 4.0 / 255.0


if __name__ == "__main__":
    unittest.main()
