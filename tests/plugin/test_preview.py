"""The deblur dialog's preview, on a virtual display (xvfb-run), as its
preview area shows it (the plug-in's FDIKP_DEBLUR_PREVIEW_SNAPSHOT hook,
preview_session.py): on noise with sharpen.pt, with a rectangle selected
and without, the view the preview log names shows the pixels the
non-interactive run produces there (inside the selection the filter's,
around it the photo's), put together from the bands of rows it computes
one after the other. With a selection, libgimp 3.0.4's drawable preview
reads the buffer from a wrong offset unless the plug-in packs it
(preview.c, draw_pixels): the content came out shifted right."""

import os
import tempfile
import unittest

import numpy as np
from PIL import Image

from gimpconsole import SessionTest

# The preview area's rendering (a cairo surface) against the layer: u8
# through the area's display conversion.
TOLERANCE = 2


class PreviewArea(SessionTest):
    SESSION = "preview_session.py"
    DISPLAY = True

    @classmethod
    def setUpClass(cls):
        # The hooks' files, in a folder of their own.
        cls.hooks = tempfile.TemporaryDirectory()
        cls.SESSION_ENV = {
            "FDIKP_DEBLUR_PREVIEW_SNAPSHOT": os.path.join(cls.hooks.name, "snapshot.png"),
            "FDIKP_DEBLUR_PREVIEW_LOG": os.path.join(cls.hooks.name, "preview.jsonl")}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.hooks.cleanup()

    def pixels(self, name, suffix):
        data = np.fromfile(os.path.join(self.tmp.name, f"{name}.{suffix}"), dtype=np.uint8)
        return data.reshape(self.results["height"], self.results["width"], 3).astype(int)

    def check(self, name):
        info = self.results["cases"][name]
        self.assertEqual(info["dialog"], "cancel")
        self.assertEqual(info["status"], "success", info["message"])
        preview = info["preview"]
        self.assertIsNotNone(preview, "no preview was logged")
        self.assertFalse(preview["error"])
        # The view is computed in bands of rows, each shown when done; the
        # pixels compared below are the bands put together.
        self.assertGreaterEqual(preview["bands"], 1)
        self.assertLessEqual(preview["first_band_seconds"], preview["seconds"])
        x, y, w, h = (preview[k] for k in ("x", "y", "width", "height"))
        with Image.open(os.path.join(self.tmp.name, name + ".png")) as im:
            shown = np.asarray(im.convert("RGB")).astype(int)
        # The area draws the view in its middle.
        top, left = (shown.shape[0] - h) // 2, (shown.shape[1] - w) // 2
        self.assertGreaterEqual(min(top, left), 0)
        shown = shown[top:top + h, left:left + w]
        before = self.pixels(name, "before")[y:y + h, x:x + w]
        after = self.pixels(name, "after")[y:y + h, x:x + w]
        # The filter changes the view (else the test says nothing).
        self.assertGreater(np.abs(after - before).mean(), 10)
        difference = np.abs(shown - after)
        self.assertLessEqual(difference.max(), TOLERANCE,
                             f"{(difference.max(axis=2) > TOLERANCE).sum()} of {w * h} "
                             "pixels differ from the filter's result")
        return preview

    def test_selection(self):
        preview = self.check("selection")
        # The view starts 8 pixels above and left of the selection and is
        # wider than the selection's part in it.
        sx, sy, sw, sh = self.results["cases"]["selection"]["selection"]
        self.assertEqual((preview["x"], preview["y"]), (sx - 8, sy - 8))
        self.assertGreater(preview["width"], sw)

    def test_without_selection(self):
        preview = self.check("whole")
        # The whole view is the filter's part: 128 rows a band.
        self.assertEqual(preview["bands"], -(-preview["height"] // 128))
        self.assertGreater(preview["bands"], 1)


if __name__ == "__main__":
    unittest.main()
