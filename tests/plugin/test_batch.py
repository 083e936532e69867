"""fdikp-deblur-batch on a folder of real photos: one line per file, the
results in the output folder in the input's format, a corrupt file named and
skipped, and a non-zero exit when anything failed."""

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import unittest

import numpy as np
from PIL import Image

# Run through the interpreter: configure_file does not keep the execute bit
# in the build tree (the installed command has it).
BATCH = os.environ["FDIKP_BATCH"]
FIXTURES = os.environ["FDIKP_FIXTURES"]
PHOTOS = os.path.join(os.environ.get("FDIKP_DATA", ""), "real-noref")


def contract_options(kind):
    """The contract's options of one type (engine/contract.json): every one
    is an option of the batch command."""
    path = os.path.join(os.environ["FDIKP_SOURCE_ROOT"], "engine", "contract.json")
    with open(path) as f:
        return [o for o in json.load(f)["options"] if o["type"] == kind]


def flag(option):
    return "--" + option["name"].replace("_", "-")


class Arguments(unittest.TestCase):
    """The batch command takes the engine's ranges, and refuses what lies
    outside them before starting GIMP."""

    def run_batch(self, *arguments):
        with tempfile.TemporaryDirectory() as tmp:
            return subprocess.run([sys.executable, BATCH, "-o", tmp, *arguments, "none.jpg"],
                                  capture_output=True, text=True, timeout=60,
                                  env=dict(os.environ, GIMP_CONSOLE="/bin/false"))

    def test_values_outside_the_engines_ranges_are_refused(self):
        for option in contract_options("int"):
            low, high = option["minimum"], option["maximum"]
            for value in (low - 1, high + 1):
                with self.subTest(flag=flag(option), value=value):
                    done = self.run_batch(flag(option), str(value))
                    self.assertEqual(done.returncode, 2, done.stderr)
                    self.assertIn(f"from {low} to {high}", done.stderr)

    def test_the_ends_of_the_ranges_are_accepted(self):
        for option in contract_options("int"):
            for value in (option["minimum"], option["maximum"]):
                with self.subTest(flag=flag(option), value=value):
                    # The one file does not exist: exit 1 after argument parsing.
                    done = self.run_batch(flag(option), str(value))
                    self.assertEqual(done.returncode, 1, done.stderr)
                    self.assertIn("no such file", done.stdout)

    def test_every_choice_is_accepted_and_no_other(self):
        options = contract_options("enum")
        self.assertTrue(options)
        for option in options:
            for value in option["values"]:
                with self.subTest(flag=flag(option), value=value["nick"]):
                    done = self.run_batch(flag(option), value["nick"])
                    self.assertEqual(done.returncode, 1, done.stderr)
            done = self.run_batch(flag(option), "no-such-choice")
            self.assertEqual(done.returncode, 2, done.stderr)


def load_batch():
    loader = importlib.machinery.SourceFileLoader("batch", BATCH)
    batch = types.ModuleType(loader.name)
    loader.exec_module(batch)
    return batch


class FocusArguments(unittest.TestCase):
    """The procedure's "Only where out of focus" arguments, which are not
    the op's properties, are options of the batch command too."""

    def test_the_flags_become_procedure_arguments(self):
        batch = load_batch()
        arguments = batch.procedure_arguments(batch.parse_args(
            ["-o", "out", "--only-out-of-focus", "--focus-threshold", "2.5",
             "--focus-feather", "0", "a.jpg"]))
        self.assertEqual((arguments["only-out-of-focus"], arguments["focus-threshold"],
                          arguments["focus-feather"]), (True, 2.5, 0.0))
        # The op's properties are still all there.
        self.assertIn("tile-size", arguments)
        defaults = batch.procedure_arguments(batch.parse_args(["-o", "out", "a.jpg"]))
        self.assertEqual((defaults["only-out-of-focus"], defaults["focus-threshold"],
                          defaults["focus-feather"]), (False, 1.5, 1.0))

    def test_radii_outside_0_to_32_are_refused(self):
        for name in ("--focus-threshold", "--focus-feather"):
            for value in ("-0.5", "32.5", "wide"):
                with self.subTest(flag=name, value=value):
                    done = Arguments.run_batch(self, name, value)
                    self.assertEqual(done.returncode, 2, done.stderr)


class FocusBatch(unittest.TestCase):
    """The flags reach the procedure in GIMP: with a model without a map
    the option fails, naming the model; with map-sharpen.pt and a threshold
    above every radius of the photo, the photo comes back unchanged (its
    sharpening forward would change it)."""

    def run_on_noise(self, model, *flags):
        with tempfile.TemporaryDirectory() as tmp:
            rng = np.random.default_rng(3)
            pixels = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
            src = os.path.join(tmp, "noise.png")
            Image.fromarray(pixels).save(src)
            out = os.path.join(tmp, "out")
            env = dict(os.environ, GIMP3_DIRECTORY=os.path.join(tmp, "gimp3"))
            done = subprocess.run([sys.executable, BATCH, "--model", model, *flags, "-o", out,
                                   src], capture_output=True, text=True, env=env, timeout=600)
            result = None
            if os.path.exists(os.path.join(out, "noise.png")):
                with Image.open(os.path.join(out, "noise.png")) as im:
                    result = np.asarray(im.convert("RGB"))
            return done, pixels, result

    def test_a_model_without_a_map_fails_with_the_option(self):
        model = os.path.join(FIXTURES, "sharpen.pt")
        done, _, result = self.run_on_noise(model, "--only-out-of-focus")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("'%s' has no defocus map" % model, done.stdout)
        self.assertIsNone(result)

    def test_threshold_and_feather_reach_the_procedure(self):
        done, pixels, result = self.run_on_noise(
            os.path.join(FIXTURES, "map-sharpen.pt"), "--only-out-of-focus",
            "--focus-threshold", "32", "--focus-feather", "0")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        np.testing.assert_array_equal(result, pixels)


class Models(unittest.TestCase):
    """--list-models names the installed models; --model takes a name or a
    file, which GIMP gets as an absolute path."""

    def test_list_models(self):
        env = dict(os.environ, FDIKP_MODEL_PATH=os.path.join(FIXTURES, "models"),
                   FDIKP_DEFAULT_MODEL=os.path.join(FIXTURES, "models", "test-identity.pt"),
                   LANGUAGE="C")
        done = subprocess.run([sys.executable, BATCH, "--list-models"], capture_output=True,
                              text=True, env=env, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual([line.split()[0] for line in lines[::2]],
                         ["plain", "test-identity", "test-sharpen"])
        self.assertIn("Test Identity (fast) (default)", lines[2])
        self.assertIn("Test Sharpen (best quality)", lines[4])
        self.assertEqual(lines[5].strip(), os.path.join(FIXTURES, "models", "test-sharpen.pt"))
        # Nothing installed: said so.
        env["FDIKP_MODEL_PATH"] = ""
        done = subprocess.run([sys.executable, BATCH, "--list-models"], capture_output=True,
                              text=True, env=env, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("No model is installed", done.stdout)

    def test_model_argument_is_a_name_or_an_absolute_file(self):
        loader = importlib.machinery.SourceFileLoader("batch", BATCH)
        batch = types.ModuleType(loader.name)
        loader.exec_module(batch)
        here = os.getcwd()
        try:
            os.chdir(FIXTURES)
            self.assertEqual(batch.model_argument("sharpen.pt"),
                             os.path.join(FIXTURES, "sharpen.pt"))
            self.assertEqual(batch.model_argument("test-sharpen"), "test-sharpen")
            self.assertEqual(batch.model_argument("Test Sharpen"), "Test Sharpen")
            self.assertEqual(batch.model_argument(""), "")
        finally:
            os.chdir(here)


class Batch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(PHOTOS):
            raise unittest.SkipTest(
                f"real photos not found at {PHOTOS}: set FDIKP_DATA to the shared data directory")
        cls.tmp = tempfile.TemporaryDirectory()
        inputs = os.path.join(cls.tmp.name, "in")
        os.makedirs(inputs)
        names = sorted(n for n in os.listdir(PHOTOS) if n.lower().endswith(".jpg"))
        smallest = sorted(names, key=lambda n: os.path.getsize(os.path.join(PHOTOS, n)))[:3]
        for name in smallest[:2]:
            shutil.copy(os.path.join(PHOTOS, name), inputs)
        # One as PNG: each result keeps its input's format.
        with Image.open(os.path.join(PHOTOS, smallest[2])) as im:
            im.save(os.path.join(inputs, "as-png.png"))
        with open(os.path.join(inputs, "broken.jpg"), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 this is not a JPEG " * 50)
        cls.inputs = inputs
        cls.output = os.path.join(cls.tmp.name, "out")
        # The model by its installed name (the fixture model folder).
        env = dict(os.environ, GIMP3_DIRECTORY=os.path.join(cls.tmp.name, "gimp3"),
                   FDIKP_MODEL_PATH=os.path.join(FIXTURES, "models"))
        cls.done = subprocess.run(
            [sys.executable, BATCH, "--model", "test-sharpen", "--tile-size", "256",
             "-o", cls.output, os.path.join(inputs, "*.jpg"), os.path.join(inputs, "*.png")],
            capture_output=True, text=True, env=env, timeout=900)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def good_inputs(self):
        return sorted(n for n in os.listdir(self.inputs) if n != "broken.jpg")

    def test_exit_status_and_failed_file_named(self):
        self.assertEqual(self.done.returncode, 1, self.done.stdout + self.done.stderr)
        broken = os.path.join(self.inputs, "broken.jpg")
        failed_lines = [line for line in self.done.stdout.splitlines() if "FAILED" in line]
        self.assertEqual(len(failed_lines), 1, self.done.stdout)
        self.assertIn(broken, failed_lines[0])
        self.assertIn(broken, self.done.stderr)
        self.assertIn("1 of 4 files failed", self.done.stderr)

    def test_one_progress_line_per_file(self):
        lines = [line for line in self.done.stdout.splitlines() if line.startswith("[")]
        self.assertEqual(len(lines), 4, self.done.stdout)
        self.assertEqual(sorted(line.split("]")[0] for line in lines),
                         ["[1/4", "[2/4", "[3/4", "[4/4"])

    def test_other_files_deblurred_in_their_format(self):
        self.assertEqual(sorted(os.listdir(self.output)), self.good_inputs(),
                         self.done.stdout + self.done.stderr)
        for name in self.good_inputs():
            with self.subTest(name), Image.open(os.path.join(self.inputs, name)) as src, \
                    Image.open(os.path.join(self.output, name)) as out:
                self.assertEqual(out.format, src.format)
                self.assertEqual(out.size, src.size)
                a = np.asarray(src.convert("RGB"), dtype=np.float64)
                b = np.asarray(out.convert("RGB"), dtype=np.float64)
                # The sharpen fixture raises local contrast: the result's
                # Laplacian energy is clearly higher than the photo's.
                self.assertGreater(laplacian_energy(b), 1.5 * laplacian_energy(a))


def laplacian_energy(rgb):
    grey = rgb.mean(axis=2)
    lap = (4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1]
           - grey[1:-1, :-2] - grey[1:-1, 2:])
    return float(np.mean(lap ** 2))


if __name__ == "__main__":
    unittest.main()
