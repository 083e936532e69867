#!/usr/bin/env python3
"""PAC's gather on one image: its batched path against its one-image path
(fdikp.fikp.PAC.filter_batch and filter_one, the same numbers), in turns,
on one tile at each thread count (docs/performance.md):

    python3 tests/bench/pac.py [--tile 320] [--runs 12] [--threads 1,2]

Prints each path's median milliseconds (the first two runs of each are
warm-up and not counted) and one-image / batched.
"""

import argparse
import os
import statistics
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "model"))

from fdikp.fikp import PAC  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tile", type=int, default=320)
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    torch.manual_seed(0)
    pac = PAC().eval()
    z = torch.rand(1, 3, args.tile, args.tile)
    kernels = torch.randn(1, 5, pac.kernel_size, pac.kernel_size)
    with torch.no_grad():
        pac.dilation.bias.fill_(0.5)  # dilations about 2.9, as trained
        grid = pac.tap_grid(z)
        paths = {"batched": pac.filter_batch, "one-image": pac.filter_one}
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            times = {name: [] for name in paths}
            for _ in range(args.runs):
                for name, path in paths.items():
                    start = time.perf_counter()
                    path(z, grid, kernels)
                    times[name].append(time.perf_counter() - start)
            median = {name: statistics.median(t[2:]) for name, t in times.items()}
            print("threads %d, %d x %d tile: batched %.1f ms, one-image %.1f ms, "
                  "one-image / batched %.2f"
                  % (threads, args.tile, args.tile, 1000 * median["batched"],
                     1000 * median["one-image"], median["one-image"] / median["batched"]))


if __name__ == "__main__":
    main()
