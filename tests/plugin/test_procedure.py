"""The PDB procedure plug-in-fdikp-deblur in a hermetic gimp-console, with
fixture models: the pixels it gives on every image kind, what it leaves
alone (alpha, unselected pixels, the image after a failure), its messages,
and its agreement with the op's own filter entry."""

import os
import unittest

import numpy as np

from gimpconsole import SessionTest

FIXTURES = os.environ["FDIKP_FIXTURES"]

# One step of the quantisation each precision stores, plus float slack:
# babl's float conversions of the perceptual curve round a little.
TOLERANCE = {"u8": 1.01 / 255, "u16": 2.0 / 65535, "float": 2e-4}
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)


def sharpen(plane):
    """sharpen.pt's 3x3 kernel on the interior of the plane (how the engine
    extends an image past its borders is the engine suite's business)."""
    h, w = plane.shape
    out = np.zeros((h - 2, w - 2))
    for dy in range(3):
        for dx in range(3):
            out += SHARPEN[dy, dx] * plane[dy:dy + h - 2, dx:dx + w - 2]
    return out


class Procedure(SessionTest):
    SESSION = "session.py"
    SESSION_ENV = {"FDIKP_MODEL_PATH": os.path.join(FIXTURES, "models")}

    def pixels(self, name, suffix, info):
        data = np.fromfile(os.path.join(self.tmp.name, f"{name}.{suffix}"), dtype=np.float32)
        channels = 4 if info["format"].startswith("R") else 2
        return data.reshape(info["height"], info["width"], channels).astype(np.float64)

    def selection_mask(self, info):
        x, y, w, h = info["selection"]
        mask = np.zeros((info["height"], info["width"]), dtype=bool)
        mask[y:y + h, x:x + w] = True
        return mask

    def test_sharpen_fixture_gives_expected_pixels_on_every_kind(self):
        cases = {k: v for k, v in self.results["cases"].items() if k.startswith("sharpen-")}
        self.assertEqual(len(cases), 12)
        for name, info in cases.items():
            with self.subTest(name):
                self.assertEqual(info["status"], "success", info["message"])
                before = self.pixels(name, "before", info)
                after = self.pixels(name, "after", info)
                # The network sees the selection's bounding box as its image,
                # as in GIMP's own filters.
                x, y, w, h = info["selection"]
                colour = before.shape[2] - 1
                crop = before[y:y + h, x:x + w]
                expected = np.stack([sharpen(crop[:, :, c]) for c in range(colour)], axis=2)
                error = np.abs(after[y + 1:y + h - 1, x + 1:x + w - 1, :colour] - expected).max()
                inside = self.selection_mask(info)
                self.assertLessEqual(error, TOLERANCE[info["precision"]])
                self.assertGreater(np.abs(after - before)[inside].max(), 0.01,
                                   "the selection did not change")

    def test_alpha_and_unselected_pixels_are_unchanged(self):
        for name, info in self.results["cases"].items():
            if not name.startswith("sharpen-"):
                continue
            with self.subTest(name):
                before = self.pixels(name, "before", info)
                after = self.pixels(name, "after", info)
                outside = ~self.selection_mask(info)
                np.testing.assert_array_equal(after[outside], before[outside])
                np.testing.assert_array_equal(after[:, :, -1], before[:, :, -1])

    def test_success_adds_an_undo_step_and_failure_none(self):
        # The PDB cannot count undo steps; it can tell a clean image from a
        # dirty one. The plug-in merges every shadow inside one undo group,
        # after all drawables succeeded, so success gives one step and a
        # failure none.
        for name, info in self.results["cases"].items():
            with self.subTest(name):
                self.assertEqual(info["dirty"], info["status"] == "success")
        self.assertEqual(self.results["two-layers"]["status"], "success")
        self.assertTrue(self.results["two-layers"]["dirty"])

    def test_failures_are_execution_errors_with_the_engine_message(self):
        expectations = {
            "error-missing": "does not exist",
            "error-not-a-model": "is not a TorchScript model file",
            "error-throws": "fixture model failure",
            "error-unknown-name": "(installed: plain, test-identity, test-sharpen)",
        }
        for name, needle in expectations.items():
            info = self.results["cases"][name]
            with self.subTest(name):
                self.assertEqual(info["status"], "execution-error")
                self.assertIn(needle, info["message"])
                self.assertIn(info["model"], info["message"])
                np.testing.assert_array_equal(self.pixels(name, "after", info),
                                              self.pixels(name, "before", info))

    def test_installed_models_are_chosen_by_name_or_title(self):
        file = self.results["cases"]["sharpen-rgba-u8"]
        for name in ("by-name", "by-title"):
            info = self.results["cases"][name]
            with self.subTest(name):
                self.assertEqual(info["status"], "success", info["message"])
                np.testing.assert_array_equal(self.pixels(name, "after", info),
                                              self.pixels("sharpen-rgba-u8", "after", file))

    def test_the_model_arguments_help_lists_the_installed_models(self):
        blurb = self.results["signature"]["model"]["blurb"]
        self.assertIn("Installed: plain, test-identity = Test Identity (fast), "
                      "test-sharpen = Test Sharpen (best quality)", blurb)

    def test_plugin_and_live_filter_entry_give_the_same_pixels(self):
        agree = self.results["agree"]
        self.assertEqual(agree["status"], "success", agree["message"])
        self.assertTrue(agree["filter_created"], "GIMP could not create the op's filter")
        via_plugin = self.pixels("agree", "plugin", agree)
        via_op = self.pixels("agree", "op", agree)
        np.testing.assert_array_equal(via_plugin, via_op)

    def test_arguments_are_the_op_properties(self):
        signature = self.results["signature"]
        op = self.results["op_properties"]
        self.assertEqual(sorted(op),
                         ["device", "model", "precision", "stages", "tile-overlap", "tile-size"])
        for name, prop in op.items():
            with self.subTest(name):
                self.assertIn(name, signature)
                argument = signature[name]
                for key in ("nick", "blurb", "default", "minimum", "maximum", "choices"):
                    self.assertEqual(argument.get(key), prop.get(key), key)


if __name__ == "__main__":
    unittest.main()
