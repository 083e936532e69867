"""The deblur procedure's "Only where out of focus" (only-out-of-focus,
focus-threshold, focus-feather) in a hermetic gimp-console, with
map-sharpen.pt (a sharpening forward and map-local.pt's analytic map):
where the map's radius is below threshold - feather / 2 the photo is left
as it was, above threshold + feather / 2 it is the plain deblur's result,
alpha is the input's; with the option off the arguments change nothing; a
model without a map is named, before its deblur runs, and the image is
unchanged."""

import os
import unittest

import numpy as np

from gimpconsole import SessionTest
from test_map import local_map

FIXTURES = os.environ["FDIKP_FIXTURES"]

# How far from the ends of the ramp a pixel's radius must lie to be judged:
# the analytic map is float32 in the engine, float64 here, and the photo's
# u8 values are what both read.
MARGIN = 0.05


class OnlyOutOfFocus(SessionTest):
    SESSION = "focus_session.py"
    SESSION_ENV = {}

    def pixels(self, name, suffix):
        info = self.results["cases"][name]
        data = np.fromfile(os.path.join(self.tmp.name, f"{name}.{suffix}"), dtype=np.float32)
        return data.reshape(info["height"], info["width"], 4).astype(np.float64)

    def assert_success(self, name):
        info = self.results["cases"][name]
        self.assertEqual(info["status"], "success", info["message"])
        self.assertTrue(info["dirty"])

    def check_blend(self, name, feather):
        self.assert_success("plain")
        self.assert_success(name)
        before = self.pixels(name, "before")
        after = self.pixels(name, "after")
        plain = self.pixels("plain", "after")
        threshold = self.results["threshold"]
        # The interior, where the analytic map is exact.
        radius = local_map(before[:, :, :3])
        inner = (slice(1, -1), slice(1, -1))
        low = radius < threshold - feather / 2 - MARGIN
        high = radius > threshold + feather / 2 + MARGIN
        self.assertGreater(low.sum(), 20)
        self.assertGreater(high.sum(), 20)
        # The sharpening fixture changes the photo where the test looks.
        self.assertGreater(np.abs(plain[inner][high] - before[inner][high]).max(), 0.1)
        self.assertGreater(np.abs(plain[inner][low] - before[inner][low]).max(), 0.1)
        np.testing.assert_array_equal(after[inner][low], before[inner][low])
        np.testing.assert_array_equal(after[inner][high], plain[inner][high])
        # Alpha is the input's everywhere.
        np.testing.assert_array_equal(after[:, :, 3], before[:, :, 3])
        return radius, before[inner], after[inner], plain[inner]

    def test_below_the_ramp_unchanged_above_it_the_plain_deblur(self):
        self.check_blend("blend", self.results["feather"])

    def test_within_the_ramp_between_the_input_and_the_deblur(self):
        radius, before, after, plain = self.check_blend("blend", self.results["feather"])
        threshold, feather = self.results["threshold"], self.results["feather"]
        inside = (radius > threshold - feather / 2 + MARGIN) & \
            (radius < threshold + feather / 2 - MARGIN)
        self.assertGreater(inside.sum(), 10)
        s = (radius[inside] - (threshold - feather / 2)) / feather
        w = (s * s * (3 - 2 * s))[:, None]
        want = before[inside][:, :3] + w * (plain[inside][:, :3] - before[inside][:, :3])
        # u8 storage: one step, plus the map's float slack.
        np.testing.assert_allclose(after[inside][:, :3], want, atol=2.5 / 255)

    def test_feather_0_is_a_hard_step(self):
        self.check_blend("hard", 0.0)

    def test_option_off_ignores_threshold_and_feather(self):
        self.assert_success("off")
        np.testing.assert_array_equal(self.pixels("off", "after"), self.pixels("plain", "after"))

    def test_a_model_without_a_map_is_named_and_the_image_is_unchanged(self):
        info = self.results["cases"]["no-map"]
        self.assertEqual(info["status"], "execution-error")
        self.assertIn("Defocus Deblur failed on \"photo\"", info["message"])
        self.assertIn("'%s' has no defocus map" % info["model"], info["message"])
        self.assertFalse(info["dirty"])
        np.testing.assert_array_equal(self.pixels("no-map", "after"),
                                      self.pixels("no-map", "before"))

    def test_the_map_is_checked_before_the_deblur_runs(self):
        # Without the option this model's deblur fails on this photo...
        off = self.results["cases"]["large-off"]
        self.assertEqual(off["status"], "execution-error")
        self.assertIn("fixture model failure on a large tile", off["message"])
        # ...with it, the missing map is found before the deblur runs.
        info = self.results["cases"]["no-map-large"]
        self.assertEqual(info["status"], "execution-error")
        self.assertIn("'%s' has no defocus map" % info["model"], info["message"])
        self.assertNotIn("fixture model failure", info["message"])
        self.assertFalse(info["dirty"])
        np.testing.assert_array_equal(self.pixels("no-map-large", "after"),
                                      self.pixels("no-map-large", "before"))

    def test_arguments(self):
        signature = self.results["signature"]
        self.assertEqual(signature["only-out-of-focus"]["default"], False)
        for name, default in (("focus-threshold", 1.5), ("focus-feather", 1.0)):
            with self.subTest(name):
                argument = signature[name]
                self.assertEqual((argument["minimum"], argument["maximum"], argument["default"]),
                                 (0.0, 32.0, default))


if __name__ == "__main__":
    unittest.main()
