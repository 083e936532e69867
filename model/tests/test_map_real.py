"""fdikp.map_real: the map against measured blur, and the contact sheet,
with a stand-in map (no trained head needed)."""

import os
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

from fdikp import map_real
from fdikp.kernels import PATCH


class StandInMap:
    """A map that is the photo's red channel times 10 px: the test
    chooses the blur it reports by painting red."""

    def __call__(self, image: torch.Tensor) -> np.ndarray:
        return image[0].numpy() * 10.0


class MapRealTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_spearman_is_the_rank_correlation(self):
        a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
        self.assertAlmostEqual(map_real.spearman(a, a ** 3), 1.0)
        self.assertAlmostEqual(map_real.spearman(a, -a), -1.0)
        # Ties take their average rank: [1, 2.5, 2.5, 4] against [1..4].
        self.assertAlmostEqual(
            map_real.spearman(np.array([1.0, 2.0, 2.0, 3.0]),
                              np.array([1.0, 2.0, 3.0, 4.0])),
            0.9486832980505138)
        self.assertTrue(np.isnan(map_real.spearman(a[:2], a[:2])))

    def test_patches_are_read_where_the_bank_measured_them(self):
        side = 2 * PATCH
        pairs = os.path.join(self.tmp.name, "pairs")
        os.makedirs(os.path.join(pairs, "blur"))
        # Four quadrants of red 0.1, 0.2, 0.3, 0.4 -> map 1, 2, 3, 4 px.
        photo = np.zeros((side, side, 3), np.uint8)
        levels = [[0.1, 0.2], [0.3, 0.4]]
        for row in range(2):
            for col in range(2):
                photo[row * PATCH:(row + 1) * PATCH,
                      col * PATCH:(col + 1) * PATCH, 0] = round(levels[row][col] * 255)
        Image.fromarray(photo).save(os.path.join(pairs, "blur", "a.png"))
        centres = np.array([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]],
                           np.float32)
        measured = np.array([2.0, 3.0, 5.0, 6.0], np.float32)
        bank = os.path.join(self.tmp.name, "bank.npz")
        np.savez(bank, names=np.array(["a.png"]), centre=centres,
                 radius=measured, usable=np.ones(4, bool),
                 pair=np.zeros(4, np.int16))
        scores = map_real.against_bank(StandInMap(), pairs, bank,
                                       log=lambda _: None)
        mapped = [r["map_px"] for r in scores["patches_detail"]]
        np.testing.assert_allclose(mapped, [1.0, 2.0, 3.0, 4.0], atol=0.03)
        self.assertAlmostEqual(scores["spearman_all"], 1.0)
        self.assertAlmostEqual(scores["bias_px"], -1.5, places=1)
        self.assertAlmostEqual(scores["mae_px"], 1.5, places=1)
        self.assertAlmostEqual(scores["mae_px_constant_map"], 1.5)

    def test_the_contact_sheet_has_every_photo(self):
        folder = os.path.join(self.tmp.name, "photos")
        os.makedirs(folder)
        for i, size in enumerate([(64, 48), (40, 60), (64, 48)]):
            Image.new("RGB", size, (100 + i, 50, 50)).save(
                os.path.join(folder, f"{i}.png"))
        out = os.path.join(self.tmp.name, "sheet.jpg")
        count = map_real.contact_sheet(StandInMap(), folder, out, top=8.0,
                                       width=64)
        self.assertEqual(count, 3)
        with Image.open(out) as sheet:
            # Two photo-and-map pairs per row, two rows.
            self.assertEqual(sheet.width, 2 * (2 * 64 + 8) + 16)
            self.assertGreater(sheet.height, 2 * 48)


if __name__ == "__main__":
    unittest.main()
