"""fdikp.allocator: the training commands start again under jemalloc when
it is installed, and only then."""

import os
import re
import subprocess
import sys
import unittest

from fdikp import allocator

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


class EnvironmentTest(unittest.TestCase):
    def test_preloads_the_library_and_keeps_freed_pages(self):
        env = allocator.jemalloc_environment({"PATH": "/bin"}, LIB)
        self.assertEqual(env["LD_PRELOAD"], LIB)
        self.assertEqual(env["MALLOC_CONF"], allocator.KEEP_FREED_PAGES)
        self.assertEqual(env["PATH"], "/bin")

    def test_keeps_a_given_configuration(self):
        env = allocator.jemalloc_environment({"MALLOC_CONF": "narenas:1"}, LIB)
        self.assertEqual(env["MALLOC_CONF"], "narenas:1")

    def test_nothing_to_do(self):
        self.assertIsNone(allocator.jemalloc_environment({}, None))  # not installed
        self.assertIsNone(allocator.jemalloc_environment({"FDIKP_MALLOC": "system"}, LIB))
        self.assertIsNone(allocator.jemalloc_environment({"LD_PRELOAD": LIB}, LIB))
        # A sanitizer's runtime must stay first in the list, with its malloc.
        self.assertIsNone(allocator.jemalloc_environment(
            {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libasan.so.8"}, LIB))


class CommandModuleTest(unittest.TestCase):
    def test_the_module_after_dash_m(self):
        self.assertEqual(allocator.command_module(
            ["python3", "-m", "fdikp.train", "--run", "x"]), "fdikp.train")
        self.assertEqual(allocator.command_module(
            ["python3", "-X", "importtime", "-u", "-m", "fdikp.evaluate"]), "fdikp.evaluate")
        self.assertEqual(allocator.command_module(["python3", "-mfdikp.train"]), "fdikp.train")

    def test_not_a_command(self):
        self.assertIsNone(allocator.command_module(["python3", "-m"]))
        self.assertIsNone(allocator.command_module(["python3", "script.py", "-m", "x"]))
        self.assertIsNone(allocator.command_module(["python3", "-c", "pass", "-m", "x"]))
        self.assertIsNone(allocator.command_module([]))

    def test_the_package_does_not_import_torch(self):
        # The re-exec happens when the package is imported: torch must come
        # after it, or every command pays for importing it twice.
        done = subprocess.run(
            [sys.executable, "-c", "import sys, fdikp; print('torch' in sys.modules)"],
            env=dict(os.environ, PYTHONPATH=MODEL_DIR), capture_output=True, text=True,
            check=True)
        self.assertEqual(done.stdout.strip(), "False")


PROBE = ("import sys; from fdikp import allocator; allocator.use_jemalloc(); "
         "maps = open('/proc/self/maps').read(); "
         "print('jemalloc' if 'libjemalloc' in maps else 'glibc', sys.argv[1:])")


def probe(**env):
    environ = dict(os.environ, PYTHONPATH=MODEL_DIR, **env)
    environ.pop("LD_PRELOAD", None)
    done = subprocess.run([sys.executable, "-c", PROBE, "a b", "c"], env=environ,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


@unittest.skipUnless(allocator.find_jemalloc(), "libjemalloc2 is not installed")
class ReexecTest(unittest.TestCase):
    def test_the_same_command_runs_again_under_jemalloc(self):
        self.assertEqual(probe(), "jemalloc ['a b', 'c']")

    def test_fdikp_malloc_system_keeps_glibc(self):
        self.assertEqual(probe(FDIKP_MALLOC="system"), "glibc ['a b', 'c']")

    def test_a_command_starts_again_before_importing_torch(self):
        # -X importtime logs every finished import of both processes (the
        # option is part of the command that starts again): the allocator
        # module twice, torch only once, in the process under jemalloc.
        def imports(**env):
            environ = dict(os.environ, PYTHONPATH=MODEL_DIR, **env)
            environ.pop("LD_PRELOAD", None)
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-m", "fdikp.tone_check", "--help"],
                env=environ, capture_output=True, text=True, check=True)
            return [len(re.findall(r"\|\s*%s\s*$" % name, done.stderr, re.M))
                    for name in (r"fdikp\.allocator", "torch")]
        self.assertEqual(imports(), [2, 1])
        self.assertEqual(imports(FDIKP_MALLOC="system"), [1, 1])


if __name__ == "__main__":
    unittest.main()
