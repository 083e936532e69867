"""The GEGL operation through the `gegl` command line and XML graphs, on
real photos, with fixture models (the engine's own tests cover the maths;
these check what a user of `gegl` sees)."""

import os
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

GEGL = os.environ.get("GEGL", "gegl")
FIXTURES = os.environ["FDIKP_FIXTURES"]
DATA = os.environ.get("FDIKP_DATA", "")
PHOTOS = os.path.join(DATA, "real-noref")
OP = "fdikp:defocus-deblur"
# Prints the op's listing of installed models (the "model" property's
# key that the GIMP plug-in reads, gegl-op/defocus-deblur.h).
LISTING_KEY = """
import gi
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl
Gegl.init(None)
print(Gegl.Operation.get_property_key("fdikp:defocus-deblur", "model", "fdikp-models"), end="")
"""


def fixture(name):
    return os.path.join(FIXTURES, name)


def gegl(*args, check=True):
    """Runs gegl; returns its stderr (warnings are the op's messages)."""
    done = subprocess.run([GEGL, *args], capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"gegl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stderr


def load(path):
    """A PNG as float RGBA in [0, 1], whatever its bit depth."""
    with Image.open(path) as im:
        if im.mode in ("I;16", "I;16B", "I"):
            raise AssertionError("unexpected grey 16-bit PNG")
        return np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0


def photos():
    if not os.path.isdir(PHOTOS):
        raise unittest.SkipTest(
            f"real photos not found at {PHOTOS}: set FDIKP_DATA to the shared data directory")
    names = sorted(n for n in os.listdir(PHOTOS) if n.lower().endswith((".jpg", ".png")))
    return [os.path.join(PHOTOS, n) for n in names]


class OpThroughGeglCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.photos = photos()
        # One large and one small photo keep the suite quick but real.
        cls.photo = cls.photos[0]
        cls.reference = cls.out("reference.png")
        gegl(cls.photo, "-o", cls.reference)
        # The photo after a float op that changes nothing: GEGL's u8 -> float
        # -> u16 round trip alone moves a few dark values by one 8-bit step,
        # so "unchanged" means equal to this, bit for bit.
        cls.unchanged = cls.out("unchanged.png")
        gegl(cls.photo, "-o", cls.unchanged, "--", "gegl:gamma", "value=1.0")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def out(cls, name):
        return os.path.join(cls.tmp.name, name)

    def deblur(self, src, dst, *props, check=True):
        return gegl(src, "-o", dst, "--", OP, *props, check=check)

    def test_op_is_registered_with_its_properties(self):
        listing = subprocess.run([GEGL, "--list-all"], capture_output=True, text=True,
                                 errors="replace").stdout
        self.assertIn(OP, listing.split())
        info = subprocess.run([GEGL, "--info", OP], capture_output=True, text=True,
                              errors="replace").stdout
        for prop in ("model", "stages", "tile-size", "tile-overlap", "device"):
            self.assertIn(prop, info)

    def test_identity_model_reproduces_photo_through_small_tiles(self):
        for photo in (self.photo, self.photos[-1]):
            ref, out = self.out("ref-id.png"), self.out("identity.png")
            gegl(photo, "-o", ref)
            warnings = self.deblur(photo, out, f"model={fixture('identity.pt')}",
                                   "tile-size=64", "tile-overlap=16")
            self.assertNotIn("fdikp", warnings)
            a, b = load(ref), load(out)
            self.assertEqual(a.shape, b.shape)
            # A seam or a misplaced tile would show far above one 8-bit step.
            self.assertLessEqual(np.abs(a - b).max(), 1 / 255 + 1e-9)

    def test_sharpen_model_same_tiled_and_untiled_away_from_borders(self):
        whole, tiled = self.out("whole.png"), self.out("tiled.png")
        self.deblur(self.photo, whole, f"model={fixture('sharpen.pt')}", "tile-size=4096")
        self.deblur(self.photo, tiled, f"model={fixture('sharpen.pt')}", "tile-size=64",
                    "tile-overlap=16")
        a, b, src = load(whole), load(tiled), load(self.reference)
        self.assertLessEqual(np.abs(a - b)[1:-1, 1:-1].max(), 1 / 255 + 1e-9)
        # The sharpened result really differs from the photo.
        self.assertGreater(np.abs(a - src).mean(), 2 / 255)

    def test_a_crop_after_the_op_equals_that_part_of_the_whole_result(self):
        # The op computes only the region asked for (here by gegl:crop),
        # on the whole image's tile grid: the same pixels, bit for bit.
        model = f"model={fixture('sharpen.pt')}"
        whole, cropped = self.out("whole-for-crop.png"), self.out("cropped.png")
        self.deblur(self.photo, whole, model, "tile-size=64", "tile-overlap=16")
        x, y, w, h = 101, 37, 90, 71
        gegl(self.photo, "-o", cropped, "--", OP, model, "tile-size=64", "tile-overlap=16",
             "gegl:crop", f"x={x}", f"y={y}", f"width={w}", f"height={h}")
        part = load(cropped)
        self.assertEqual(part.shape[:2], (h, w))
        self.assertTrue(np.array_equal(part, load(whole)[y:y + h, x:x + w]))

    def test_alpha_passes_through_unchanged(self):
        rgba = self.out("with-alpha.png")
        with Image.open(self.photo) as im:
            im = im.convert("RGB")
            w, h = im.size
            alpha = (np.add.outer(np.arange(h), np.arange(w)) * 255 // (w + h)).astype(np.uint8)
            im.putalpha(Image.fromarray(alpha))
            im.save(rgba)
        out = self.out("alpha-out.png")
        self.deblur(rgba, out, f"model={fixture('sharpen.pt')}", "tile-size=96")
        self.assertTrue(np.array_equal(load(rgba)[..., 3], load(out)[..., 3]))

    def test_missing_model_warns_and_leaves_image_unchanged(self):
        out = self.out("missing.png")
        warnings = self.deblur(self.photo, out, "model=/nonexistent/model.pt")
        self.assertIn("model file '/nonexistent/model.pt' does not exist", warnings)
        self.assertIn("left unchanged", warnings)
        self.assertTrue(np.array_equal(load(out), load(self.unchanged)))

    def test_failing_model_leaves_image_unchanged(self):
        out = self.out("throws.png")
        warnings = self.deblur(self.photo, out, f"model={fixture('throws-large.pt')}",
                               "tile-size=128")
        self.assertIn("fixture model failure on a large tile", warnings)
        self.assertTrue(np.array_equal(load(out), load(self.unchanged)))

    def test_empty_model_property_uses_the_default_model(self):
        out = self.out("default.png")
        env = dict(os.environ, FDIKP_DEFAULT_MODEL=fixture("sharpen.pt"))
        subprocess.run([GEGL, self.photo, "-o", out, "--", OP, "tile-size=4096"], env=env,
                       check=True, capture_output=True)
        explicit = self.out("explicit.png")
        self.deblur(self.photo, explicit, f"model={fixture('sharpen.pt')}", "tile-size=4096")
        self.assertTrue(np.array_equal(load(out), load(explicit)))

    def with_models(self, *args, default=None):
        """Runs gegl with the fixture model folder as the installed models
        (and a default model, by name or path); returns its stderr."""
        env = dict(os.environ, FDIKP_MODEL_PATH=fixture("models"))
        if default:
            env["FDIKP_DEFAULT_MODEL"] = default
        done = subprocess.run([GEGL, *args], env=env, capture_output=True, text=True,
                              errors="replace", timeout=600)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout + done.stderr

    def test_installed_models_are_chosen_by_name_or_title(self):
        by_path = self.out("by-path.png")
        self.deblur(self.photo, by_path, f"model={fixture('sharpen.pt')}", "tile-size=4096")
        for given in ("test-sharpen", "TEST-SHARPEN", "Test Sharpen"):
            with self.subTest(model=given):
                out = self.out("by-name.png")
                self.with_models(self.photo, "-o", out, "--", OP, f"model={given}",
                                 "tile-size=4096")
                self.assertTrue(np.array_equal(load(out), load(by_path)))
        # The default model may be named too.
        out = self.out("default-by-name.png")
        self.with_models(self.photo, "-o", out, "--", OP, "tile-size=4096",
                         default="test-sharpen")
        self.assertTrue(np.array_equal(load(out), load(by_path)))

    def test_an_unknown_name_says_what_is_installed_and_changes_nothing(self):
        out = self.out("unknown-name.png")
        warnings = self.with_models(self.photo, "-o", out, "--", OP, "model=sharpest")
        self.assertIn('no installed model is named "sharpest", and there is no such file '
                      "(installed: plain, test-identity, test-sharpen)", warnings)
        self.assertIn("left unchanged", warnings)
        self.assertTrue(np.array_equal(load(out), load(self.unchanged)))

    def test_the_model_property_lists_the_installed_models(self):
        info = self.with_models("--info", OP, default="test-identity")
        self.assertIn("Installed: plain, test-identity = Test Identity (fast) (default), "
                      "test-sharpen = Test Sharpen (best quality)", " ".join(info.split()))
        # A damaged file is named, not listed.
        self.assertIn("models/broken.pt: it is not a model archive", info)
        # Hosts read the same list from the property's key.
        listing = subprocess.run(
            ["python3", "-c", LISTING_KEY], capture_output=True, text=True, check=True,
            env=dict(os.environ, FDIKP_MODEL_PATH=fixture("models"),
                     FDIKP_DEFAULT_MODEL=fixture("models/test-sharpen.pt"))).stdout
        rows = [line.split("\t") for line in listing.splitlines()]
        self.assertEqual(rows, [
            ["plain", "plain", fixture("models/plain.pt"), ""],
            ["test-identity", "Test Identity (fast)", fixture("models/test-identity.pt"), ""],
            ["test-sharpen", "Test Sharpen (best quality)", fixture("models/test-sharpen.pt"),
             "default"]])

    def test_tiny_images(self):
        for w, h in ((1, 1), (1, 5), (7, 1), (3, 2)):
            src, out = self.out(f"tiny{w}x{h}.png"), self.out(f"tiny{w}x{h}-out.png")
            pattern = np.arange(w * h * 3).reshape(h, w, 3) * 7 % 256
            Image.fromarray(pattern.astype(np.uint8)).save(src)
            self.deblur(src, out, f"model={fixture('identity.pt')}")
            self.assertTrue(np.array_equal(load(src), load(out)))

    def test_xml_graph(self):
        graph = self.out("graph.xml")
        with open(graph, "w") as f:
            f.write(f"""<?xml version='1.0' encoding='UTF-8'?>
<gegl>
  <node operation='{OP}'>
    <params>
      <param name='model'>{fixture('identity.pt')}</param>
      <param name='stages'>2</param>
      <param name='tile-size'>80</param>
      <param name='tile-overlap'>24</param>
      <param name='device'>cpu</param>
    </params>
  </node>
  <node operation='gegl:load'>
    <params><param name='path'>{self.photo}</param></params>
  </node>
</gegl>
""")
        out = self.out("graph.png")
        gegl("-i", graph, "-o", out)
        self.assertLessEqual(np.abs(load(out) - load(self.reference)).max(), 1 / 255 + 1e-9)


if __name__ == "__main__":
    unittest.main()
