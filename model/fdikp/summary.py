"""Parameter count of FDIKP per module, and the CPU time of a model file.

    python3 -m fdikp.summary
    python3 -m fdikp.summary --benchmark FILE.pt [--size 1024] [--stages 3]
                             [--threads 2]
"""

import argparse
import resource
import sys
import time
from typing import List, Tuple

import torch
from torch import nn

from .network import FDIKP, TRAINED_STAGES

PAPER_PARAMETERS = 5.52e6

# (label, attribute path) in display order; indentation shows nesting.
BREAKDOWN = [
    ("FIKP", "fikp"),
    ("  DIKP", "fikp.dikp"),
    ("    Predictor (amplitude)", "fikp.dikp.predictor_amplitude"),
    ("    Predictor (phase)", "fikp.dikp.predictor_phase"),
    ("    Attention (amplitude)", "fikp.dikp.attention"),
    ("  PAC (dilation map)", "fikp.pac"),
    ("  Refine conv", "fikp.refine"),
    ("DSRM", "dsrm"),
    ("  Encoder", "dsrm.encoder"),
    ("  DDM", "dsrm.ddm"),
    ("    Strip attention (3 x intra + inter)", "dsrm.ddm.spatial"),
    ("    Frequency block", "dsrm.ddm.frequency"),
    ("  Decoder", "dsrm.decoder"),
    ("  APU", "dsrm.apu"),
    ("Output conv 1x1", "out_conv"),
]


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def breakdown(net: FDIKP) -> List[Tuple[str, int]]:
    return [(label, count(net.get_submodule(path)))
            for label, path in BREAKDOWN]


def print_breakdown(net: FDIKP) -> None:
    total = count(net)
    for label, n in breakdown(net):
        print(f"{label:<42} {n:>10,} {100 * n / total:6.2f} %")
    deviation = 100 * (total - PAPER_PARAMETERS) / PAPER_PARAMETERS
    print(f"{'Total':<42} {total:>10,}  ({deviation:+.1f} % vs the "
          f"paper's 5.52 M)")


def benchmark(model_file: str, size: int, stages: int, threads: int) -> None:
    """One timed forward of the exported model on a size x size image,
    after a small warm-up run (TorchScript optimises on first calls)."""
    torch.set_num_threads(threads)
    model = torch.jit.load(model_file)
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, size, size, generator=gen)
    with torch.inference_mode():
        for _ in range(2):
            model(torch.rand(1, 3, 64, 64, generator=gen), stages)
        start = time.perf_counter()
        out = model(image, stages)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"{model_file}: {size}x{size}, {stages} stages, {threads} "
          f"threads: {seconds:.1f} s; peak RSS {peak:.2f} GiB; "
          f"output {tuple(out.shape)}")
    print(f"torch {torch.__version__}, "
          f"oneDNN {torch.backends.mkldnn.is_available()}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m fdikp.summary",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", metavar="FILE.pt",
                        help="time one forward of an exported model")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--stages", type=int, default=TRAINED_STAGES)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.benchmark:
        benchmark(args.benchmark, args.size, args.stages, args.threads)
    else:
        print_breakdown(FDIKP())
    return 0


if __name__ == "__main__":
    sys.exit(main())
