"""A defocus map in the exported file (fdikp.map_export): forward stays bit
for bit what the file without a map computes, the map method is the head's
map in pixels for any size, and the metadata says so. RANDOM weights
(--random-init and an untrained head): the plumbing, not the map's
quality."""

import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

from fdikp.defocus_head import DefocusHead
from fdikp.export import read_metadata
from fdikp.map_export import HEAD_MULTIPLE, head_widths
from fdikp.network import pad_to_multiple

torch.set_num_threads(2)

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_export(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "fdikp.export", "--random-init", "--seed", "3",
                           "--config", "fdikp-s", "--memory-probe-size", "32", *args],
                          cwd=MODEL_DIR, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)


def save_head(path: str, widths=(16, 32, 48, 64), seed: int = 5) -> DefocusHead:
    torch.manual_seed(seed)
    head = DefocusHead(widths).eval()
    torch.save({"model": head.state_dict(), "step": 7}, path)
    return head


class MapExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.head_file = os.path.join(cls.tmp.name, "head.pt")
        cls.head = save_head(cls.head_file)
        cls.plain_file = os.path.join(cls.tmp.name, "plain.pt")
        cls.map_file = os.path.join(cls.tmp.name, "map.pt")
        run_export("--out", cls.plain_file)
        run_export("--out", cls.map_file, "--defocus-head", cls.head_file)
        cls.plain = torch.jit.load(cls.plain_file)
        cls.mapped = torch.jit.load(cls.map_file)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_forward_is_bit_identical_with_and_without_the_map(self):
        torch.manual_seed(0)
        for shape, stages in (((1, 3, 37, 50), 3), ((2, 3, 64, 64), 1), ((1, 3, 1, 1), 2)):
            image = torch.rand(*shape)
            with torch.inference_mode():
                want = self.plain(image, stages)
                got = self.mapped(image, stages)
            with self.subTest(shape=shape, stages=stages):
                self.assertTrue(torch.equal(want, got))

    def test_the_map_is_the_heads_radius_in_pixels_for_any_size(self):
        torch.manual_seed(1)
        for shape in ((1, 3, 37, 50), (2, 3, 64, 48), (1, 3, 1, 1)):
            image = torch.rand(*shape)
            with torch.inference_mode():
                got = self.mapped.defocus_map(image)
                padded, height, width = pad_to_multiple(image, HEAD_MULTIPLE)
                want = self.head(padded)[:, :, :height, :width]
            with self.subTest(shape=shape):
                self.assertEqual(tuple(got.shape), (shape[0], 1, height, width))
                self.assertEqual(got.dtype, torch.float32)
                self.assertTrue(bool((got >= 0).all()))
                self.assertLess(float((got - want).abs().max()), 1e-4)
        with self.assertRaises(Exception):
            self.mapped.defocus_map(torch.rand(1, 1, 16, 16))

    def test_the_metadata_says_there_is_a_map_and_its_unit(self):
        info = read_metadata(self.map_file)
        self.assertEqual((info["defocus_map"], info["defocus_map_unit"],
                          info["defocus_map_multiple"]), (1, "px", HEAD_MULTIPLE))
        self.assertIn("7 steps", info["defocus_map_training"])
        plain = read_metadata(self.plain_file)
        self.assertNotIn("defocus_map", plain)
        # The rest is the file's without a map (memory per pixel is measured
        # again for each file).
        same = [k for k in plain if k != "memory_bytes_per_pixel"]
        self.assertEqual({k: info[k] for k in same}, {k: plain[k] for k in same})
        self.assertEqual(set(info) - set(plain), {"defocus_map", "defocus_map_unit",
                                                  "defocus_map_multiple",
                                                  "defocus_map_training"})
        self.assertFalse(hasattr(self.plain, "defocus_map"))

    def test_a_head_of_other_widths_is_rebuilt_from_its_state(self):
        path = os.path.join(self.tmp.name, "narrow.pt")
        head = save_head(path, widths=(8, 16, 24, 32), seed=9)
        self.assertEqual(head_widths(head.state_dict()), (8, 16, 24, 32))
        out = os.path.join(self.tmp.name, "narrow-model.pt")
        run_export("--out", out, "--defocus-head", path)
        image = torch.rand(1, 3, 24, 40)
        with torch.inference_mode():
            got = torch.jit.load(out).defocus_map(image)
            want = head(image)
        self.assertLess(float((got - want).abs().max()), 1e-4)

    def test_the_engine_deblurs_the_file_as_before_and_computes_its_map(self):
        engine = os.environ.get("FDIKP_ENGINE_RUN", "")
        if not engine or not os.access(engine, os.X_OK):
            self.skipTest("FDIKP_ENGINE_RUN is unset: build the engine's CLI and point the "
                          "variable at it")
        image = np.random.default_rng(2).random((80, 96, 3), dtype=np.float32)
        source = os.path.join(self.tmp.name, "in.npy")
        np.save(source, image)
        outputs = []
        for model in (self.plain_file, self.map_file):
            out = os.path.join(self.tmp.name, "out.npy")
            radii = os.path.join(self.tmp.name, "map.npy")
            extra = ("--defocus-map", radii) if model == self.map_file else ()
            done = subprocess.run([engine, "--model", model, "--device", "cpu", *extra, source,
                                   out], capture_output=True, text=True, timeout=600)
            self.assertEqual(done.returncode, 0, done.stderr)
            outputs.append(np.load(out))
        self.assertTrue(np.array_equal(outputs[0], outputs[1]))
        with torch.inference_mode():
            want = self.mapped.defocus_map(torch.from_numpy(image).permute(2, 0, 1)[None])
        got = np.load(radii)[..., 0]
        # One tile (the automatic tile is larger than the image): the
        # engine's map is the file's, to float rounding.
        self.assertLess(np.abs(got - want[0, 0].numpy()).max(), 1e-4)


if __name__ == "__main__":
    unittest.main()
