"""The C++ engine and Python agree on an exported model, on a real photo.

Needs the engine's command line in $FDIKP_ENGINE_RUN
(``RUN --model FILE.pt --stages S --tile-size 0 --device cpu IN.npy
OUT.npy``, H x W x 3 float32 arrays) and a real defocused photo from
$FDIKP_DATA/real-noref; skips with a message when either is missing.
The model has RANDOM weights (test-only export): parity is about the
engine's plumbing (layout, padding, metadata), not about deblurring.
"""

import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

torch.set_num_threads(2)

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CROP = 128
TOLERANCE = 1e-4


def real_photo_crop(data_dir: str) -> np.ndarray:
    """A CROP x CROP centre crop of the first real-noref photo, H x W x 3
    float32 in [0, 1]."""
    folder = os.path.join(data_dir, "real-noref")
    names = sorted(n for n in os.listdir(folder)
                   if n.lower().endswith((".png", ".jpg", ".jpeg")))
    with Image.open(os.path.join(folder, names[0])) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    top = (rgb.shape[0] - CROP) // 2
    left = (rgb.shape[1] - CROP) // 2
    return np.ascontiguousarray(rgb[top:top + CROP, left:left + CROP])


class EngineParityTest(unittest.TestCase):
    def setUp(self):
        self.engine = os.environ.get("FDIKP_ENGINE_RUN", "")
        if not self.engine or not os.access(self.engine, os.X_OK):
            self.skipTest("FDIKP_ENGINE_RUN is unset or not an executable "
                          f"({self.engine!r}): build the engine's CLI and "
                          "point the variable at it")
        data_dir = os.environ.get("FDIKP_DATA", "")
        if not os.path.isdir(os.path.join(data_dir, "real-noref")):
            self.skipTest(f"no real photos: $FDIKP_DATA ({data_dir!r}) has "
                          "no real-noref/ folder")
        self.photo = real_photo_crop(data_dir)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        # One file per network configuration: the engine takes either.
        self.model_files = {}
        for config in ("fdikp", "fdikp-s"):
            self.model_files[config] = os.path.join(self.tmp.name,
                                                    config + ".pt")
            subprocess.run([sys.executable, "-m", "fdikp.export",
                            "--random-init", "--seed", "0",
                            "--config", config,
                            "--out", self.model_files[config],
                            "--memory-probe-size", "32"],
                           cwd=MODEL_DIR, check=True, capture_output=True)
        self.model_file = self.model_files["fdikp"]

    def python_output(self, image: np.ndarray, stages: int) -> np.ndarray:
        model = torch.jit.load(self.model_file)
        x = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0)
        with torch.inference_mode():
            y = model(x.contiguous(), stages)
        return y[0].permute(1, 2, 0).numpy()

    def engine_output(self, image: np.ndarray, stages: int,
                      graph: str = "", precision: str = "auto") -> np.ndarray:
        src = os.path.join(self.tmp.name, "in.npy")
        dst = os.path.join(self.tmp.name, "out.npy")
        np.save(src, image)
        env = dict(os.environ)
        env.pop("FDIKP_CPU_GRAPH", None)
        if graph:
            env["FDIKP_CPU_GRAPH"] = graph
        result = subprocess.run(
            [self.engine, "--model", self.model_file, "--stages",
             str(stages), "--tile-size", "0", "--device", "cpu",
             "--precision", precision, src, dst],
            capture_output=True, text=True, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.last_graph = [line for line in result.stdout.splitlines()
                           if line.startswith("graph: ")][0]
        return np.load(dst)

    def test_engine_matches_python_on_a_real_photo(self):
        # Every CPU graph the engine can run: the default (fused,
        # channels-last), LibTorch's optimize_for_inference, and the graph
        # as saved; both network configurations.
        cases = [(config, stages, image) for config in self.model_files
                 for stages, image in (
                     (3, self.photo),
                     (2, self.photo[:45, :77]),  # padded path
                     (1, self.photo[:3, :2]))]   # tiny
        for config, stages, image in cases:
            self.model_file = self.model_files[config]
            self.check_parity(config, stages, image)

    def test_the_shipped_model_matches_python_in_float32(self):
        # Trained weights: the channel trim and the APU's batch norm folded
        # into its convolution (engine/cpu_graph_trim.cc) move real
        # statistics, which a random network's fresh batch norm does not.
        shipped = os.path.join(os.path.dirname(MODEL_DIR), "data",
                               "fdikp-default.pt")
        if not os.path.exists(shipped):
            self.skipTest(f"no shipped model at {shipped}")
        self.model_file = shipped
        want = self.python_output(self.photo, 3)
        got = self.engine_output(self.photo, 3, precision="fp32")
        self.assertIn("1 with a batch norm folded in", self.last_graph)
        self.assertLess(np.abs(got - want).max(), TOLERANCE)

    def check_parity(self, config: str, stages: int, image: np.ndarray):
        want = self.python_output(image, stages)
        if image.shape[0] > 8:
            # Random weights clamp many pixels to 0 or 1; make sure enough
            # of the comparison is about real values.
            inside = ((want > 0) & (want < 1)).mean()
            self.assertGreater(inside, 0.2)
        for graph, says in (("", "graph: fused: "),
                            ("oneDNN", "graph: oneDNN"),
                            ("plain", "graph: plain")):
            with self.subTest(config=config, graph=graph, stages=stages,
                              shape=image.shape):
                got = self.engine_output(np.ascontiguousarray(image),
                                         stages, graph)
                # The fast path must not fall back without notice.
                self.assertTrue(self.last_graph.startswith(says),
                                self.last_graph)
                if not graph:
                    # Every convolution, the decoder's transposed ones
                    # too, is a oneDNN call on channels-last tensors.
                    self.assertNotIn("left to LibTorch", self.last_graph)
                    # The zero channels the network pads its PAC
                    # refinement, LSTM gates and small outputs with are
                    # taken out (engine/cpu_graph_trim.cc): the same
                    # numbers, within the tolerance below.
                    self.assertRegex(self.last_graph,
                                     r"\([1-9][0-9]* without their zero "
                                     r"channels, 1 with a batch norm "
                                     r"folded in\)")
                self.assertEqual(got.shape, image.shape)
                self.assertEqual(got.dtype, np.float32)
                error = np.abs(got - want).max()
                self.assertLess(error, TOLERANCE)


if __name__ == "__main__":
    unittest.main()
