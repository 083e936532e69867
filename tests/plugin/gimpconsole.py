"""Runs Python code in a hermetic gimp-console: its own GIMP3_DIRECTORY in a
temporary folder, the plug-in and GEGL search paths from the test
environment (tests/plugin/meson.build)."""

import json
import os
import subprocess
import tempfile
import unittest

GIMP_CONSOLE = os.environ.get("GIMP_CONSOLE", "gimp-console-3.0")


def hermetic_env(gimp_dir, **extra):
    env = dict(os.environ, GIMP3_DIRECTORY=gimp_dir, **extra)
    # The default model is not what these tests run; a test that wants it
    # names it.
    env.setdefault("LANG", "C.UTF-8")
    return env


def run_python(code, gimp_dir=None, env=None, timeout=600, display=False):
    """Runs `code` with python-fu-eval; returns (exit status, output).
    display: on a virtual X display of its own (xvfb-run), where the
    plug-ins can open their dialogs."""
    with tempfile.TemporaryDirectory(prefix="gimp3-") as tmp:
        env = hermetic_env(gimp_dir or tmp, **(env or {}))
        done = subprocess.run(
            (["xvfb-run", "-a"] if display else [])
            + [GIMP_CONSOLE, "-i", "-n", "--batch-interpreter", "python-fu-eval", "-b", "-",
               "--quit"],
            input=code, capture_output=True, text=True, env=env, timeout=timeout)
        return done.returncode, done.stdout + done.stderr


HERE = os.path.dirname(os.path.abspath(__file__))


class SessionTest(unittest.TestCase):
    """Runs SESSION (a script in this folder, importing session_common) once
    in gimp-console for the class, with SESSION_ENV and FDIKP_SESSION_OUT
    set to a temporary folder (on a virtual display with DISPLAY); its
    results.json is cls.results and its files are in cls.tmp.name."""

    SESSION = ""
    SESSION_ENV = {}
    DISPLAY = False

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        with open(os.path.join(HERE, cls.SESSION)) as f:
            code = f.read()
        path = os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH")) if p)
        env = dict(cls.SESSION_ENV, PYTHONPATH=path, FDIKP_SESSION_OUT=cls.tmp.name)
        status, cls.log = run_python(code, env=env, display=cls.DISPLAY)
        results = os.path.join(cls.tmp.name, "results.json")
        if status != 0 or not os.path.exists(results):
            raise AssertionError(f"the GIMP session failed ({status}):\n{cls.log[-6000:]}")
        with open(results) as f:
            cls.results = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
