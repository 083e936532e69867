"""The package installs and runs outside the repository (model/pyproject.toml).

The wheel is built with setuptools' own PEP 517 backend (what pip calls with
--no-build-isolation) from a copy of model/ in a temporary folder, so that
the build leaves nothing in the source tree, and unpacked into another
folder, which is what installing a pure-Python wheel does. The commands
then run with that folder as their only PYTHONPATH and a working directory
outside the repository: every module and every data file they read must
have come with the wheel."""

import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DIR = os.path.join(MODEL_DIR, "fdikp")
NO_SETUPTOOLS = ("setuptools is not installed (Debian: python3-setuptools), "
                 "so the package cannot be built here")
# Package data: what the modules open beside themselves at run time.
DATA_FILES = ("fdikp/contract.json", "fdikp/folds.json",
              "fdikp/kernel-banks/dpdd-dev.npz")


def outside_env(site: str) -> dict:
    """The environment with `site` as the only extra module path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = site
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@unittest.skipIf(importlib.util.find_spec("setuptools") is None,
                 NO_SETUPTOOLS)
class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="fdikp-install-")
        source = os.path.join(cls.folder, "src")
        os.makedirs(source)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(os.path.join(MODEL_DIR, name), source)
        # Links (fdikp/contract.json) are copied as the files they name,
        # as an sdist would hold them.
        shutil.copytree(PACKAGE_DIR, os.path.join(source, "fdikp"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        dist = os.path.join(cls.folder, "dist")
        built = subprocess.run(
            [sys.executable, "-c",
             "import sys; from setuptools import build_meta; "
             "print(build_meta.build_wheel(sys.argv[1]))", dist],
            cwd=source, env=outside_env(""), capture_output=True, text=True,
            timeout=300)
        if built.returncode != 0:
            shutil.rmtree(cls.folder)
            raise AssertionError("the wheel did not build:\n" + built.stdout
                                 + built.stderr)
        wheels = glob.glob(os.path.join(dist, "fdikp-*.whl"))
        assert len(wheels) == 1, wheels
        cls.wheel = wheels[0]
        cls.site = os.path.join(cls.folder, "site")
        with zipfile.ZipFile(cls.wheel) as archive:
            cls.names = set(archive.namelist())
            archive.extractall(cls.site)
        # A working directory that is neither the repository nor the copy.
        cls.elsewhere = os.path.join(cls.folder, "elsewhere")
        os.makedirs(cls.elsewhere)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.folder, ignore_errors=True)

    def run_outside(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=self.elsewhere,
                              env=outside_env(self.site),
                              capture_output=True, text=True, timeout=300)

    def test_the_wheel_holds_every_module_and_the_data(self):
        modules = {"fdikp/" + os.path.basename(path) for path in
                   glob.glob(os.path.join(PACKAGE_DIR, "*.py"))}
        self.assertFalse(modules - self.names, "modules missing")
        for name in DATA_FILES:
            self.assertIn(name, self.names)
        # The contract arrives as the file, not as a link to ../../engine.
        with open(os.path.join(PACKAGE_DIR, "contract.json"), "rb") as f, \
                open(os.path.join(self.site, "fdikp", "contract.json"),
                     "rb") as g:
            self.assertEqual(f.read(), g.read())

    def test_the_commands_run_from_outside_the_repository(self):
        where = self.run_outside("-c", "import fdikp; print(fdikp.__file__)")
        self.assertEqual(where.returncode, 0, where.stderr)
        self.assertTrue(where.stdout.strip().startswith(self.site),
                        "fdikp came from " + where.stdout)
        for module, option in (("fdikp.train", "--run"),
                               ("fdikp.export", "--weights")):
            result = self.run_outside("-m", module, "--help")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn(option, result.stdout)
            self.assertIn("python3 -m " + module, result.stdout)

    def test_the_installed_copy_reads_its_own_data(self):
        probe = (
            "import numpy as np\n"
            "from fdikp import contract, folds, kernels, synth\n"
            "split = folds.Folds(folds.FOLDS_FILE)\n"
            "with np.load(synth.BANK_FILE) as bank:\n"
            "    kernels_in_bank = len(bank.files)\n"
            "print(len(split), kernels_in_bank, len(contract.OPTIONS))\n"
            "for path in (contract.CONTRACT_FILE, folds.FOLDS_FILE,\n"
            "             synth.BANK_FILE, kernels.bank_file()):\n"
            "    print(path)\n")
        result = self.run_outside("-c", probe)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.split("\n")
        count, files, options = (int(x) for x in lines[0].split())
        self.assertEqual(count, 5)
        self.assertGreater(files, 0)
        self.assertGreater(options, 0)
        for path in filter(None, lines[1:]):
            self.assertTrue(path.startswith(self.site), path)

    def test_an_installed_export_writes_a_model_file(self):
        out = os.path.join(self.elsewhere, "random.pt")
        result = self.run_outside(
            "-m", "fdikp.export", "--random-init", "--config", "fdikp-s",
            "--out", out, "--memory-probe-size", "32")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('"format": "fdikp-deblur-model"', result.stdout)
        self.assertTrue(os.path.isfile(out))


if __name__ == "__main__":
    unittest.main()
