"""The PDB procedure plug-in-fdikp-defocus-map in a hermetic gimp-console,
with fixture models: the map layer's and mask's values against
map-local.pt's analytic map, what the procedure leaves alone (the photo's
pixels, the other layers), and a model without a map refused with the
image unchanged."""

import os
import unittest

import numpy as np

from gimpconsole import SessionTest

FIXTURES = os.environ["FDIKP_FIXTURES"]

# The map is stored in u8 (the image's precision): one step of it, plus
# float slack.
TOLERANCE = 1.01 / 255
DEFAULT_MAX_RADIUS = 8.0


def local_map(rgb):
    """map-local.pt's radii: 10 x the mean over channels of |image - its 3x3
    box mean|, on the interior (how the engine extends an image past its
    borders is the engine suite's business)."""
    h, w, _ = rgb.shape
    box = sum(rgb[1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx]
              for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    return 10 * np.abs(rgb[1:-1, 1:-1] - box).mean(axis=2)


class DefocusMapProcedure(SessionTest):
    SESSION = "map_session.py"
    SESSION_ENV = {"FDIKP_MODEL_PATH": os.path.join(FIXTURES, "models")}

    def pixels(self, name, suffix, channels):
        info = self.results["cases"][name]
        data = np.fromfile(os.path.join(self.tmp.name, f"{name}.{suffix}"), dtype=np.float32)
        return data.reshape(info["height"], info["width"], channels).astype(np.float64)

    def expected(self, name, max_radius):
        """What the map layer or mask should hold, on the interior."""
        before = self.pixels(name, "before", 4)
        return np.clip(local_map(before[:, :, :3]) / max_radius, 0.0, 1.0)

    def assert_photo_unchanged(self, name):
        np.testing.assert_array_equal(self.pixels(name, "after", 4),
                                      self.pixels(name, "before", 4))

    def test_layer_output_adds_one_grey_layer_with_the_scaled_map(self):
        info = self.results["cases"]["layer"]
        self.assertEqual(info["status"], "success", info["message"])
        self.assertTrue(info["dirty"])
        before, after = info["layers_before"], info["layers_after"]
        # One new layer, on top of the stack: directly above the photo.
        self.assertEqual(len(after), len(before) + 1)
        self.assertEqual(after[1:], before)
        new = after[0]
        self.assertEqual(new["name"], "Defocus map")
        self.assertEqual(new["offsets"], self.results["offsets"])
        self.assertEqual((new["width"], new["height"]), (info["width"], info["height"]))
        self.assertFalse(new["has_mask"])
        # An opaque layer of the image's kind (RGB here).
        self.assertEqual(info["layer_kind"], {"rgb": True, "alpha": False})
        layer = self.pixels("layer", "layer", 3)
        # Grey: the three channels agree.
        np.testing.assert_array_equal(layer[:, :, 0], layer[:, :, 1])
        np.testing.assert_array_equal(layer[:, :, 0], layer[:, :, 2])
        want = self.expected("layer", self.results["max_radius"])
        error = np.abs(layer[1:-1, 1:-1, 0] - want).max()
        self.assertLessEqual(error, TOLERANCE)
        # Both ends of the scale occur: the clamp at white is exercised.
        self.assertGreater((want >= 1.0).sum(), 10)
        self.assertGreater((want < 0.5).sum(), 10)
        self.assertTrue(((layer >= 0) & (layer <= 1)).all())
        self.assert_photo_unchanged("layer")

    def test_max_radius_defaults_to_8_px(self):
        info = self.results["cases"]["default-radius"]
        self.assertEqual(info["status"], "success", info["message"])
        layer = self.pixels("default-radius", "layer", 3)
        want = self.expected("default-radius", DEFAULT_MAX_RADIUS)
        self.assertLessEqual(np.abs(layer[1:-1, 1:-1, 0] - want).max(), TOLERANCE)

    def test_mask_output_adds_the_map_as_the_photo_layers_mask(self):
        for name in ("mask", "mask-replaced"):
            info = self.results["cases"][name]
            with self.subTest(name):
                self.assertEqual(info["status"], "success", info["message"])
                self.assertTrue(info["dirty"])
                before, after = info["layers_before"], info["layers_after"]
                # No layer added; the photo (on top) has a mask, replaced
                # where it had one.
                self.assertEqual([dict(layer, has_mask=False) for layer in after],
                                 [dict(layer, has_mask=False) for layer in before])
                self.assertEqual(before[0]["has_mask"], name == "mask-replaced")
                self.assertTrue(after[0]["has_mask"])
                mask = self.pixels(name, "mask", 1)[:, :, 0]
                want = self.expected(name, self.results["max_radius"])
                self.assertLessEqual(np.abs(mask[1:-1, 1:-1] - want).max(), TOLERANCE)
                self.assert_photo_unchanged(name)

    def test_a_model_without_a_map_is_named_and_the_image_is_unchanged(self):
        for output in ("layer", "mask"):
            name = "no-map-" + output
            info = self.results["cases"][name]
            with self.subTest(name):
                self.assertEqual(info["status"], "execution-error")
                self.assertIn("Defocus Map failed on \"photo\"", info["message"])
                self.assertIn("'%s' has no defocus map" % info["model"], info["message"])
                self.assertEqual(info["layers_after"], info["layers_before"])
                self.assertFalse(info["dirty"])
                self.assert_photo_unchanged(name)

    def test_arguments(self):
        signature = self.results["signature"]
        # The map op's properties, as the deblur procedure has its op's.
        for name in ("model", "device", "precision", "tile-size", "tile-overlap"):
            self.assertIn(name, signature)
        self.assertNotIn("stages", signature)
        self.assertEqual(signature["output"]["choices"], ["layer", "mask"])
        self.assertEqual(signature["output"]["default"], "layer")
        radius = signature["max-radius"]
        self.assertEqual((radius["minimum"], radius["maximum"], radius["default"]),
                         (0.5, 64.0, DEFAULT_MAX_RADIUS))


if __name__ == "__main__":
    unittest.main()
