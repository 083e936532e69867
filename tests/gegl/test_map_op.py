"""fdikp:defocus-map through `gegl`: an XML graph with the fixture map
model (map-local.pt: its map is checkable exactly), one float per pixel in
pixels of blur radius, tiled as untiled, a crop after the op, a model
without a map, the properties it shares with fdikp:defocus-deblur, and the
README's own XML graph with the shipped model, saved as a PNG."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

from test_reference import reference_input

GEGL = os.environ.get("GEGL", "gegl")
FIXTURES = os.environ["FDIKP_FIXTURES"]
HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "..", "README.md")
SHIPPED = os.environ.get("FDIKP_SHIPPED_MODEL",
                         os.path.join(HERE, "..", "..", "data", "fdikp-default.pt"))
PROPERTIES = """
import json, gi
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl
Gegl.init(None)
print(json.dumps({op: sorted(p.name for p in Gegl.Operation.list_properties(op))
                  for op in ("fdikp:defocus-deblur", "fdikp:defocus-map")}))
"""
# Tiled against untiled through GEGL: float rounding in the cross-fades
# (measured 2.4e-7 px in the engine's own test).
TOLERANCE_PX = 1e-5


def gegl(*args):
    done = subprocess.run([GEGL, *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"gegl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stderr


def readme_map_graph():
    """The first XML block of the README's section on fdikp:defocus-map."""
    with open(README) as f:
        text = f.read()
    section = text[text.index("### The defocus map: `fdikp:defocus-map`"):]
    start = section.index("```xml\n") + len("```xml\n")
    return section[start:section.index("```", start)]


def local_map(image):
    """What map-local.pt computes, away from the borders."""
    x = image.astype(np.float64) / 255.0
    box = sum(x[1 + dy:x.shape[0] - 1 + dy, 1 + dx:x.shape[1] - 1 + dx]
              for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    return 10.0 * np.abs(x[1:-1, 1:-1] - box).mean(axis=2)


class MapOp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.source = cls.path("input.png")
        cls.image = reference_input(cls.source)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp.name, name)

    def graph_map(self, tile, model="map-local.pt"):
        with open(os.path.join(HERE, "reference", "defocus-map.xml")) as f:
            graph = f.read()
        for key, value in (("@MODEL@", os.path.join(FIXTURES, model)),
                           ("@INPUT@", self.source), ("@TILE@", str(tile))):
            graph = graph.replace(key, value)
        graph_path = self.path("map-%d.xml" % tile)
        with open(graph_path, "w") as f:
            f.write(graph)
        out = self.path("map-%d.npy" % tile)
        warnings = gegl("-i", graph_path, "-o", out)
        return np.load(out), warnings

    def test_the_graph_gives_the_models_map_in_pixels(self):
        tiled, warnings = self.graph_map(48)
        self.assertEqual(warnings.strip(), "")
        self.assertEqual(tiled.shape, self.image.shape[:2])  # one channel
        self.assertEqual(tiled.dtype, np.float32)
        want = local_map(self.image)
        self.assertLess(np.abs(tiled[1:-1, 1:-1] - want).max(), 1e-5)
        self.assertGreaterEqual(tiled.min(), 0.0)
        self.assertLessEqual(tiled.max(), 10.0)
        self.assertGreater(tiled.max(), 1.0)  # radii in pixels, not clipped to [0, 1]
        untiled, _ = self.graph_map(0)
        self.assertLess(np.abs(tiled - untiled)[1:-1, 1:-1].max(), TOLERANCE_PX)

    def test_a_crop_after_the_op_is_that_part_of_the_map(self):
        whole, _ = self.graph_map(48)
        out = self.path("crop.npy")
        gegl(self.source, "-o", out, "--", "fdikp:defocus-map",
             "model=" + os.path.join(FIXTURES, "map-local.pt"), "tile-size=48",
             "tile-overlap=8", "device=cpu", "gegl:crop", "x=50", "y=30", "width=64",
             "height=40", "gegl:translate", "x=-50", "y=-30")
        # (GEGL 0.4.62's npy-save writes a region off the origin short by its
        # offset: the translation brings it back to the origin.)
        self.assertTrue(np.array_equal(np.load(out), whole[30:70, 50:114]))

    def test_a_model_without_a_map_is_named_and_the_map_left_empty(self):
        model = os.path.join(FIXTURES, "identity.pt")
        out = self.path("none.npy")
        warnings = gegl(self.source, "-o", out, "--", "fdikp:defocus-map", "model=" + model)
        self.assertIn("fdikp:defocus-map: '%s' has no defocus map" % model, warnings)
        self.assertTrue((np.load(out) == 0).all())

    def test_the_readmes_graph_saves_the_shipped_models_map_as_a_png(self):
        graph = readme_map_graph()
        self.assertIn("<param name='path'>photo.jpg</param>", graph)
        self.assertIn("<param name='model'>fdikp-s</param>", graph)
        graph = graph.replace("photo.jpg", self.source)
        out = self.path("readme-map.png")
        env = dict(os.environ, FDIKP_MODEL_PATH=os.path.dirname(os.path.abspath(SHIPPED)))
        done = subprocess.run([GEGL, "-x", graph, "-o", out], capture_output=True,
                              text=True, timeout=300, env=env)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("fdikp", done.stderr)  # no warning: the map was computed
        saved = np.asarray(Image.open(out)).astype(np.float64)
        self.assertEqual(saved.shape, self.image.shape[:2])  # grey, the photo's size
        # The same map as the op gives alone, x 0.125 (8 px -> white), in
        # 16 bits; the op's Y float is linear, and the PNG stores Y' (the
        # sRGB curve), as GEGL saves any linear grey.
        radii = self.path("readme-map.npy")
        gegl(self.source, "-o", radii, "--", "fdikp:defocus-map", "model=" + SHIPPED)
        linear = np.clip(np.load(radii).astype(np.float64) * 0.125, 0.0, 1.0)
        encoded = np.where(linear <= 0.0031308, 12.92 * linear,
                           1.055 * linear ** (1 / 2.4) - 0.055)
        self.assertLess(np.abs(saved - encoded * 65535).max(), 4.0)
        self.assertGreater(np.ptp(linear), 0.1)  # a map, not a constant

    def test_it_has_the_deblur_ops_properties_but_stages(self):
        done = subprocess.run([sys.executable, "-c", PROPERTIES], capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        ops = json.loads(done.stdout)
        deblur, defocus = ops["fdikp:defocus-deblur"], ops["fdikp:defocus-map"]
        self.assertIn("stages", deblur)
        self.assertEqual(defocus, sorted(set(deblur) - {"stages"}))
        # The device enum is the map op's own, with the deblur op's nicks.
        out = self.path("cuda.npy")
        warnings = gegl(self.source, "-o", out, "--", "fdikp:defocus-map",
                        "model=" + os.path.join(FIXTURES, "map-local.pt"), "device=cuda")
        if "CUDA is not available" not in warnings:
            self.assertGreater(np.load(out).max(), 1.0)


if __name__ == "__main__":
    unittest.main()
