"""fdikp.overview: the before | after sheets of fdikp.evaluate --noref,
cropped at 100 % into one picture."""

import os
import tempfile
import unittest

import torch
from PIL import Image

from fdikp import overview
from fdikp.image_io import LABEL_HEIGHT, grid


def flat(value: float, height: int, width: int) -> torch.Tensor:
    return torch.full((3, height, width), value)


class OverviewTest(unittest.TestCase):
    def test_each_photo_is_cropped_unscaled_before_then_after(self):
        with tempfile.TemporaryDirectory() as folder:
            # Two sheets as evaluate writes them; the second photo is
            # smaller than the crop, so it is taken whole.
            before = flat(0.2, 60, 90)
            before[:, 30, 45] = 1.0  # the centre pixel, to find it again
            grid([[before, flat(0.8, 60, 90)]], ["before: a", "after"]).save(
                os.path.join(folder, "a.png"))
            grid([[flat(0.4, 20, 30), flat(0.6, 20, 30)]],
                 ["before: b", "after"]).save(os.path.join(folder, "b.png"))
            out = os.path.join(folder, "overview.png")
            self.assertEqual(overview.main([folder, "--out", out,
                                            "--crop", "40x30"]), 0)
            sheet = Image.open(out).convert("RGB")
            gap = overview.GAP
            self.assertEqual(sheet.size, (2 * (2 * 40 + gap) + 3 * gap,
                                          LABEL_HEIGHT + 30 + gap))
            top = LABEL_HEIGHT
            # a: the 40 x 30 centre of the before photo, its centre pixel at
            # (20, 15) of the crop, unscaled; then the after photo.
            self.assertEqual(sheet.getpixel((20, top + 15)), (255, 255, 255))
            self.assertEqual(sheet.getpixel((19, top + 15)), (51, 51, 51))
            self.assertEqual(sheet.getpixel((40 + gap + 5, top + 5)),
                             (204, 204, 204))
            # b, in the second pair of the row: whole, 30 x 20.
            x = 2 * 40 + gap + 3 * gap
            self.assertEqual(sheet.getpixel((x + 29, top + 19)), (102, 102, 102))
            self.assertEqual(sheet.getpixel((x + 40 + gap, top)), (153, 153, 153))

    def test_an_empty_folder_is_an_error(self):
        with tempfile.TemporaryDirectory() as folder:
            self.assertEqual(overview.main([folder, "--out",
                                            os.path.join(folder, "o.jpg")]), 1)


if __name__ == "__main__":
    unittest.main()
