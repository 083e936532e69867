"""The memory allocator the training and inference commands run under.

glibc's malloc gives a large block (a feature map, a gradient) back to the
kernel as soon as it is freed, and the next step takes fresh pages, which
the kernel must fault in and zero. On these 2-core machines that cost a
quarter of a training step's CPU time in the kernel, and fresh memory is
slow for the step itself too. jemalloc told to keep the pages it frees
(``MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1``) hands them out again:
30 steps of the ft-c384 recipe took 186 s of CPU time instead of 360 s,
7.6 s of it in the kernel instead of 85.5 s (2026-12-06,
docs/training/training-details.md, "The allocator").

``use_jemalloc()`` starts the running command again, the same way, with
Debian's libjemalloc2 preloaded, when it is installed and nothing is
preloaded yet. The package calls ``start_command()`` when it is imported:
for ``python3 -m fdikp.X`` with X one of COMMANDS, that is before the
command imports torch (which takes seconds, and would be paid twice), and
never when a test imports a command to call its ``main``.
``FDIKP_MALLOC=system`` keeps glibc's malloc, for comparisons (the engine
reads the same variable).
"""

import glob
import os
import sys
from typing import Mapping, Optional, Sequence

# The commands that allocate large maps step after step.
COMMANDS = ("fdikp.train", "fdikp.defocus_head", "fdikp.evaluate",
            "fdikp.per_image", "fdikp.tone_check", "fdikp.map_real")
KEEP_FREED_PAGES = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
_CANDIDATES = ("/usr/lib/*-linux-gnu/libjemalloc.so.2", "/usr/lib64/libjemalloc.so.2",
               "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2")


def find_jemalloc() -> Optional[str]:
    """The path of libjemalloc.so.2, or None when it is not installed."""
    for pattern in _CANDIDATES:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def jemalloc_environment(environ: Mapping[str, str],
                         library: Optional[str]) -> Optional[dict]:
    """The environment to start the command again in, or None to go on as
    it is: when FDIKP_MALLOC=system, when jemalloc is not installed, and
    when something is preloaded already (jemalloc itself, or a sanitizer's
    runtime, which must come first and brings its own malloc)."""
    if environ.get("FDIKP_MALLOC", "") == "system" or library is None:
        return None
    if environ.get("LD_PRELOAD", "").strip():
        return None
    env = dict(environ)
    env["LD_PRELOAD"] = library
    env.setdefault("MALLOC_CONF", KEEP_FREED_PAGES)
    return env


def use_jemalloc() -> None:
    """Replaces this process by the same command under jemalloc (see the
    module's text); returns when there is nothing to do."""
    env = jemalloc_environment(os.environ, find_jemalloc())
    argv = getattr(sys, "orig_argv", None)  # Python 3.10+: the command as typed
    if env is None or not argv:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + list(argv[1:]), env)


def command_module(argv: Sequence[str]) -> Optional[str]:
    """The module a Python command line runs with -m (``python3 -X dev -m
    fdikp.train --run x`` -> "fdikp.train"), or None."""
    index = 1
    while index < len(argv):
        word = argv[index]
        if word == "-m":
            return argv[index + 1] if index + 1 < len(argv) else None
        if word.startswith("-m"):
            return word[2:]
        if word.startswith("-c") or not word.startswith("-") or word == "-":
            return None  # a script, -c or stdin: what follows is its own
        index += 2 if word in ("-X", "-W") else 1  # options with a value
    return None


def start_command() -> None:
    """use_jemalloc() when this process is one of COMMANDS run with -m."""
    if command_module(getattr(sys, "orig_argv", ())) in COMMANDS:
        use_jemalloc()
