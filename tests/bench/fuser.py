#!/usr/bin/env python3
"""LibTorch's TensorExpr fuser against the simple executor, on one tile of a
model file in Python (docs/performance.md, "tried and dropped"):

    python3 tests/bench/fuser.py simple|fused [--model data/fdikp-default.pt]
        [--tile 288] [--runs 6]

Run each mode in its own process (the executor is chosen once per process);
prints the seconds of every run, and for "fused" how many fused groups the
last optimised graph holds.
"""

import argparse
import os
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("simple", "fused"))
    parser.add_argument("--model", default=os.path.join(REPO, "data", "fdikp-default.pt"))
    parser.add_argument("--tile", type=int, default=288)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "simple":
        torch._C._jit_set_profiling_executor(False)
    else:
        torch._C._jit_set_profiling_executor(True)
        torch._C._jit_override_can_fuse_on_cpu(True)
        torch._C._jit_set_texpr_fuser_enabled(True)
        torch._C._jit_set_fusion_strategy([("STATIC", 2)])
    model = torch.jit.load(args.model, map_location="cpu").eval()
    x = torch.rand(1, 3, args.tile, args.tile)
    with torch.no_grad():
        for run in range(args.runs):
            start = time.time()
            model(x, 3)
            print("%s run %d: %.2f s" % (args.mode, run, time.time() - start), flush=True)
        if args.mode == "fused":
            graph = str(torch.jit.last_executed_optimized_graph())
            print("fused groups:", graph.count("TensorExprGroup"))


if __name__ == "__main__":
    main()
