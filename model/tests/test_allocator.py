"""fdikp.allocator: the training commands start again under jemalloc when
it is installed, and only then."""

import os
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


if __name__ == "__main__":
    unittest.main()
