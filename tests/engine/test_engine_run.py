"""fdikp-engine-run finds models as the filter does (engine/catalog.h): an
installed model's name or title through $FDIKP_MODEL_PATH, a path as a
path, and an unknown name refused with the installed models named."""

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


if __name__ == "__main__":
    unittest.main()
