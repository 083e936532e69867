"""A GEGL-style reference test: the committed graph reference/sharpen.xml
(a fixed input, the fixture model sharpen.pt, 48-px tiles) run by `gegl`,
and the SHA-256 of its 8-bit RGBA output compared with the committed one.

Whatever changes the op's output (tiling, colour conversion, the engine's
layout or rounding) changes the hash. After a change that is meant to
alter the output, look at the new image and update EXPECTED_SHA256 (the
failure message prints the new hash and how far the image moved)."""

import hashlib
import os
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

GEGL = os.environ.get("GEGL", "gegl")
FIXTURES = os.environ["FDIKP_FIXTURES"]
HERE = os.path.dirname(os.path.abspath(__file__))

EXPECTED_SHA256 = "2f6c3ca4f8f53a1e6b5d6363313619dc72ffe6de21a9d28b1b2e1343ea12c1e8"


def reference_input(path, width=160, height=112):
    """The fixed input: smooth ramps, sharp edges and fine stripes, in
    integers only, so the PNG is the same everywhere."""
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255) // (width - 1)
    green = ((x // 9 + y // 7) % 2) * 200 + 30
    blue = np.where((x - 80) ** 2 + (y - 56) ** 2 < 30 ** 2, 220, (y * 255) // (height - 1))
    blue = np.where(x % 4 < 2, blue, blue // 2)
    image = np.stack([red, green, blue], axis=2).astype(np.uint8)
    Image.fromarray(image).save(path)
    return image


def sharpened(image):
    """What sharpen.pt computes (its 3x3 kernel, borders replicated),
    clamped as the engine clamps, in 8 bits."""
    x = image.astype(np.float64) / 255.0
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    y = (5 * p[1:-1, 1:-1] - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:])
    return np.round(np.clip(y, 0.0, 1.0) * 255.0).astype(int)


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"), dtype=np.uint8)


class ReferenceGraph(unittest.TestCase):
    def test_sharpen_graph_output_hash(self):
        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "input.png")
            reference_input(source)
            with open(os.path.join(HERE, "reference", "sharpen.xml")) as f:
                graph = f.read().replace("@MODEL@", os.path.join(FIXTURES, "sharpen.pt"))
            graph = graph.replace("@INPUT@", source)
            graph_path = os.path.join(tmp, "sharpen.xml")
            with open(graph_path, "w") as f:
                f.write(graph)
            out = os.path.join(tmp, "out.png")
            done = subprocess.run([GEGL, "-i", graph_path, "-o", out], capture_output=True,
                                  text=True, timeout=300)
            self.assertEqual(done.returncode, 0, done.stderr)
            result = pixels(out)
            original = pixels(source)
        self.assertEqual(result.shape, original.shape)
        # A hash of the right image: what the model computes, within GEGL's
        # rounding (one 8-bit level), and opaque.
        wrong = np.abs(result[..., :3].astype(int) - sharpened(original[..., :3]))
        self.assertLessEqual(wrong.max(), 1)
        self.assertTrue((result[..., 3] == 255).all())
        digest = hashlib.sha256(result.tobytes()).hexdigest()
        moved = np.abs(result.astype(int) - original.astype(int))
        self.assertEqual(digest, EXPECTED_SHA256,
                         "the reference graph's output changed: sha256 %s; it differs from "
                         "the input by up to %d levels (mean %.2f)"
                         % (digest, moved.max(), moved.mean()))


if __name__ == "__main__":
    unittest.main()
