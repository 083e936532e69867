"""fdikp.precision_check: bfloat16 against float32 through the engine, and
the stamp that lets the engine's automatic precision take bfloat16.

Needs the engine's command line in $FDIKP_ENGINE_RUN; skips with a message
when it is missing. The model is a fixed 3 x 3 sharpen (no training
involved: the check is about the plumbing and the arithmetic).
"""

import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

from fdikp import precision_check
from fdikp.export import METADATA_NAME, read_metadata

torch.set_num_threads(2)


class Sharpen(torch.nn.Module):
    def __init__(self):
        super().__init__()
        kernel = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0],
                               [0.0, -1.0, 0.0]])
        self.weight = torch.nn.Parameter(
            kernel.expand(3, 1, 3, 3).contiguous(), requires_grad=False)

    def forward(self, image: torch.Tensor, stages: int) -> torch.Tensor:
        padded = torch.nn.functional.pad(image, (1, 1, 1, 1), mode="replicate")
        return torch.nn.functional.conv2d(padded, self.weight, groups=3)


def write_model(path: str) -> None:
    meta = {"format": "fdikp-deblur-model", "format_version": 1,
            "architecture": "fixture", "version": "0", "default_stages": 3,
            "max_stages": 5, "base_multiple": 1,
            "recommended_tile_size": 64, "training": "none: a test fixture"}
    torch.jit.save(torch.jit.script(Sharpen()), path,
                   _extra_files={METADATA_NAME: json.dumps(meta)})


def write_pairs(folder: str, count: int = 2, side: int = 48) -> None:
    rng = np.random.default_rng(5)
    for kind in ("blur", "sharp"):
        os.makedirs(os.path.join(folder, kind))
    for i in range(count):
        sharp = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        blur = ((sharp.astype(np.float32) + np.roll(sharp, 1, 0)
                 + np.roll(sharp, 1, 1)) / 3).astype(np.uint8)
        Image.fromarray(sharp).save(os.path.join(folder, "sharp", f"{i}.png"))
        Image.fromarray(blur).save(os.path.join(folder, "blur", f"{i}.png"))


class PrecisionCheckTest(unittest.TestCase):
    def setUp(self):
        self.engine = os.environ.get("FDIKP_ENGINE_RUN", "")
        if not self.engine or not os.access(self.engine, os.X_OK):
            self.skipTest("FDIKP_ENGINE_RUN is unset or not an executable "
                          f"({self.engine!r}): build the engine's CLI")
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.model = os.path.join(self.tmp.name, "sharpen.pt")
        write_model(self.model)

    def test_the_check_runs_both_precisions_and_reports_the_change(self):
        pairs = os.path.join(self.tmp.name, "pairs")
        write_pairs(pairs)
        result = precision_check.check_pairs(self.engine, self.model, pairs,
                                             threads=1, log=lambda _: None)
        self.assertEqual(result["count"], 2)
        for row in result["images"]:
            # bfloat16 moved the pixels, by a bounded amount.
            self.assertGreater(row["max_levels"], 0)
            self.assertLess(row["max_levels"], 0.03 * 255)
            self.assertAlmostEqual(row["psnr_change_db"],
                                   row["bf16"]["psnr"] - row["fp32"]["psnr"])
        self.assertEqual(result["passed"],
                         result["largest_abs_psnr_change_db"]
                         <= result["tolerance_db"])
        self.assertEqual(result["tolerance_db"], 0.02)

    def test_the_stamp_records_the_change_and_keeps_the_network(self):
        stamped = os.path.join(self.tmp.name, "stamped.pt")
        precision_check.stamp(self.model, stamped, 0.0123456)
        meta = read_metadata(stamped)
        self.assertEqual(meta["bf16_psnr_change_db"], 0.01235)
        self.assertEqual(meta["architecture"], "fixture")
        # The engine reads the key back.
        done = subprocess.run([self.engine, "--inspect", "--model", stamped],
                              check=True, capture_output=True, text=True)
        self.assertIn("bf16_psnr_change_db=0.01235", done.stdout)

    def test_missing_pairs_skip_with_a_message(self):
        code = precision_check.main(["--model", self.model, "--engine",
                                     self.engine, "--pairs",
                                     os.path.join(self.tmp.name, "none")])
        self.assertEqual(code, 77)


if __name__ == "__main__":
    unittest.main()
