"""fdikp-engine-run finds models as the filter does (engine/catalog.h): an
installed model's name or title through $FDIKP_MODEL_PATH, a path as a
path, and an unknown name refused with the installed models named; its
--defocus-map writes a model's map for Python tools; its --profile writes
the last run's operators as a Chrome trace."""

import json
import os
import subprocess
import tempfile
import unittest

import numpy as np

ENGINE_RUN = os.environ["FDIKP_ENGINE_RUN"]
FIXTURES = os.environ["FDIKP_FIXTURES"]
MODELS = os.path.join(FIXTURES, "models")


def engine_run(*args):
    env = dict(os.environ, FDIKP_MODEL_PATH=MODELS)
    env.pop("FDIKP_DEFAULT_MODEL", None)
    return subprocess.run([ENGINE_RUN, *args], env=env, capture_output=True, text=True,
                          timeout=300)


class EngineRunModels(unittest.TestCase):
    def inspect(self, model):
        done = engine_run("--model", model, "--inspect")
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout

    def test_an_installed_model_by_name_or_title(self):
        for given in ("test-sharpen", "TEST-SHARPEN", "Test Sharpen"):
            with self.subTest(model=given):
                self.assertIn("name=test-sharpen ", self.inspect(given))
        self.assertIn('title="Test Identity"', self.inspect("test-identity"))

    def test_a_path_stays_a_path(self):
        self.assertIn("name=test-identity ",
                      self.inspect(os.path.join(MODELS, "test-identity.pt")))
        self.assertIn("name= ", self.inspect(os.path.join(FIXTURES, "sharpen.pt")))

    def test_an_unknown_name_names_the_installed_models(self):
        done = engine_run("--model", "sharpest", "--inspect")
        self.assertEqual(done.returncode, 1)
        self.assertIn('no installed model is named "sharpest", and there is no such file '
                      "(installed: plain, test-identity, test-sharpen)", done.stderr)

    def test_a_run_by_name_equals_a_run_by_path(self):
        with tempfile.TemporaryDirectory() as tmp:
            image = np.random.default_rng(3).random((40, 56, 3), dtype=np.float32)
            np.save(os.path.join(tmp, "in.npy"), image)
            outputs = []
            for model in ("test-sharpen", os.path.join(MODELS, "test-sharpen.pt")):
                out = os.path.join(tmp, "out.npy")
                done = engine_run("--model", model, "--device", "cpu",
                                  os.path.join(tmp, "in.npy"), out)
                self.assertEqual(done.returncode, 0, done.stderr)
                outputs.append(np.load(out))
            self.assertTrue(np.array_equal(outputs[0], outputs[1]))
            self.assertFalse(np.array_equal(outputs[0], image))


class EngineRunProfile(unittest.TestCase):
    def test_the_last_run_is_traced_operator_by_operator(self):
        with tempfile.TemporaryDirectory() as tmp:
            source, out = os.path.join(tmp, "in.npy"), os.path.join(tmp, "out.npy")
            trace = os.path.join(tmp, "trace.json")
            np.save(source, np.random.default_rng(7).random((40, 40, 3), dtype=np.float32))
            done = engine_run("--model", "test-sharpen", "--device", "cpu", "--tile-size", "16",
                              "--repeat", "2", "--profile", trace, source, out)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(done.stdout.count("seconds="), 2)
            with open(trace) as f:
                events = json.load(f)
            events = events["traceEvents"] if isinstance(events, dict) else events
            spans = [e for e in events if e.get("ph") == "X"]
            self.assertTrue(all(e["dur"] >= 0 for e in spans))
            # The model's forward once per tile of the recorded run, with
            # LibTorch's operators inside it.
            tiles = int(done.stdout.split("tiles=")[-1].split()[0])
            self.assertGreater(tiles, 1)
            forwards = sorted((e["ts"], e["ts"] + e["dur"]) for e in spans
                              if e["name"] == "forward")
            outermost = [f for f in forwards
                         if not any(g != f and g[0] <= f[0] and f[1] <= g[1] for g in forwards)]
            self.assertEqual(len(outermost), tiles)
            self.assertTrue(any(e["name"].startswith("aten::") for e in spans))
            # Each operator with its input shapes, so that one convolution
            # can be told from another (tests/bench/profile.py --shapes).
            dims = [d for e in spans if e["name"].startswith("aten::")
                    for d in e.get("args", {}).get("Input Dims", [])]
            self.assertTrue(any(len(d) == 4 and d[:2] == [1, 3] for d in dims), dims[:20])

    def test_a_trace_that_cannot_be_written_fails_the_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "in.npy")
            np.save(source, np.zeros((8, 8, 3), np.float32))
            done = engine_run("--model", "test-sharpen", "--device", "cpu", "--profile",
                              os.path.join(tmp, "no", "trace.json"), source,
                              os.path.join(tmp, "out.npy"))
            self.assertEqual(done.returncode, 1)
            self.assertIn("could not write", done.stderr)


class EngineRunDefocusMap(unittest.TestCase):
    def test_the_map_is_written_as_h_x_w_x_1_radii_in_pixels(self):
        with tempfile.TemporaryDirectory() as tmp:
            image = np.random.default_rng(5).random((37, 53, 3), dtype=np.float32)
            source, out = os.path.join(tmp, "in.npy"), os.path.join(tmp, "out.npy")
            np.save(source, image)
            for deblurred in ((), (out,)):
                radii = os.path.join(tmp, "map.npy")
                done = engine_run("--model", os.path.join(FIXTURES, "map-local.pt"),
                                  "--device", "cpu", "--tile-size", "16", "--defocus-map", radii,
                                  source, *deblurred)
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertIn("defocus_map: device=cpu precision=fp32 tile_size=16", done.stdout)
                got = np.load(radii)
                self.assertEqual(got.shape, (37, 53, 1))
                # map-local.pt: 10 x the mean over channels of |image - 3x3 box mean|.
                x = image.astype(np.float64)
                box = sum(x[1 + dy:36 + dy, 1 + dx:52 + dx]
                          for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
                want = 10 * np.abs(x[1:-1, 1:-1] - box).mean(axis=2)
                self.assertLess(np.abs(got[1:-1, 1:-1, 0] - want).max(), 1e-5)
            # The identity forward, through cross-faded 16-px tiles.
            self.assertLess(np.abs(np.load(out) - image).max(), 1e-6)

    def test_a_model_without_a_map_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            np.save(os.path.join(tmp, "in.npy"), np.zeros((8, 8, 3), np.float32))
            model = os.path.join(FIXTURES, "sharpen.pt")
            done = engine_run("--model", model, "--defocus-map", os.path.join(tmp, "map.npy"),
                              os.path.join(tmp, "in.npy"))
            self.assertEqual(done.returncode, 1)
            self.assertIn("'%s' has no defocus map" % model, done.stderr)
        self.assertIn("defocus_map=1 defocus_map_unit=px defocus_map_multiple=4",
                      self.inspect_map())

    def inspect_map(self):
        done = engine_run("--model", os.path.join(FIXTURES, "map-local.pt"), "--inspect")
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout


if __name__ == "__main__":
    unittest.main()
