"""Runs Python code in a hermetic gimp-console: its own GIMP3_DIRECTORY in a
temporary folder, the plug-in and GEGL search paths from the test
environment (tests/plugin/meson.build)."""

import os
import subprocess
import tempfile

GIMP_CONSOLE = os.environ.get("GIMP_CONSOLE", "gimp-console-3.0")


def hermetic_env(gimp_dir, **extra):
    env = dict(os.environ, GIMP3_DIRECTORY=gimp_dir, **extra)
    # The default model is not what these tests run; a test that wants it
    # names it.
    env.setdefault("LANG", "C.UTF-8")
    return env


def run_python(code, gimp_dir=None, env=None, timeout=600):
    """Runs `code` with python-fu-eval; returns (exit status, output)."""
    with tempfile.TemporaryDirectory(prefix="gimp3-") as tmp:
        env = hermetic_env(gimp_dir or tmp, **(env or {}))
        done = subprocess.run(
            [GIMP_CONSOLE, "-i", "-n", "--batch-interpreter", "python-fu-eval", "-b", "-",
             "--quit"],
            input=code, capture_output=True, text=True, env=env, timeout=timeout)
        return done.returncode, done.stdout + done.stderr
