"""The GPU window's one command, end to end on the CPU (window.sh --smoke):
both trainings start detached, resume the committed state where there is
one, stop on time, and their state, log and throughput come back."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch

from fdikp.synth import data_dir

MODEL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(MODEL)
# model/device/device.py, the module the window's runs are named in
_spec = importlib.util.spec_from_file_location(
    "device", os.path.join(MODEL, "device", "device.py"))
device = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(device)
DATA = data_dir()
HAVE_DATA = os.path.isdir(os.path.join(DATA, "train-photos"))


@unittest.skipUnless(HAVE_DATA, "no training photos at %s (set FDIKP_DATA)"
                     % DATA)
class WindowSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp()
        cls.out = os.path.join(cls.folder, "out")
        env = dict(os.environ, OUT=cls.out, DEVICE_DATA=DATA,
                   DEVICE_RUNS=os.path.join(cls.folder, "runs"))
        cls.result = subprocess.run(
            ["bash", "model/device/window.sh", "--smoke", "--minutes", "2"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.folder)

    def test_the_command_succeeds_within_its_time(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        with open(os.path.join(self.out, "window.log")) as f:
            log = f.read()
        self.assertIn("done; files in", log)
        self.assertIn("steps/s", log)
        self.assertIn("images/s", log)

    def test_both_configurations_come_back_further_on(self):
        for config, network in device.RUNS.items():
            with self.subTest(config=config):
                state_file = os.path.join(self.out, config, "last.pt")
                self.assertTrue(os.path.isfile(state_file),
                                self.result.stdout + self.result.stderr)
                self.assertLessEqual(os.path.getsize(state_file),
                                     16 * 2 ** 20)
                state = torch.load(state_file, map_location="cpu", weights_only=True)
                self.assertEqual(state["network"]["name"], network)
                committed = os.path.join(MODEL, "checkpoints", config,
                                         "last.pt")
                start = (torch.load(committed, map_location="cpu", weights_only=True)["step"]
                         if os.path.isfile(committed) else 0)
                self.assertGreater(state["step"], start)
                with open(os.path.join(self.out, config, "log.jsonl")) as f:
                    records = [json.loads(line) for line in f]
                self.assertEqual(records[-1]["hardware"].split(":")[0],
                                 "cpu")
                self.assertIn("images_per_s", records[-1])

    def test_collect_takes_only_states_further_on(self):
        """collect() copies into model/checkpoints/<config>; run it on a
        copy of the tree's checkpoints folder."""
        sandbox = os.path.join(self.folder, "sandbox")
        os.makedirs(os.path.join(sandbox, "model"))
        committed = os.path.join(MODEL, "checkpoints")
        if os.path.isdir(committed):
            shutil.copytree(committed,
                            os.path.join(sandbox, "model", "checkpoints"))
        result = subprocess.run(
            [sys.executable, os.path.join(MODEL, "device", "device.py"),
             "collect", self.out], cwd=sandbox, capture_output=True,
            text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        for config in device.RUNS:
            self.assertIn(config + ": step", result.stdout)
            got = torch.load(os.path.join(sandbox, "model", "checkpoints",
                                          config, "last.pt"),
                             map_location="cpu", weights_only=True)
            back = torch.load(os.path.join(self.out, config, "last.pt"),
                              map_location="cpu", weights_only=True)
            self.assertEqual(got["step"], back["step"])
        again = subprocess.run(
            [sys.executable, os.path.join(MODEL, "device", "device.py"),
             "collect", self.out], cwd=sandbox, capture_output=True,
            text=True)
        self.assertIn("kept the committed one", again.stdout)


if __name__ == "__main__":
    unittest.main()
