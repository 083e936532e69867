"""Parameter count of FDIKP per module, and the CPU time of a model file.

    python3 -m fdikp.summary [--config fdikp-s]
    python3 -m fdikp.summary --benchmark FILE.pt [--size 1024] [--stages 3]
                             [--threads 2]
    python3 -m fdikp.summary --train-step --config fdikp-s [--config ...]
                             [--batch 8] [--crop 128] [--stages 3]

--config takes a name (fdikp, fdikp-s) or a JSON object of
network.NetworkConfig fields, e.g. '{"name": "wide", "width": 48,
"bottleneck": 96, "strip_blocks": 1}'; --train-step times one training
step (fp32 and bf16 autocast) and one eager inference for each.
"""

import argparse
import json
import resource
import sys
import time
from typing import List, Tuple

import torch
from torch import nn

from .network import FDIKP, TRAINED_STAGES, network_config

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
    ("    Strip attention (intra + inter pairs)", "dsrm.ddm.spatial"),
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


def parse_network(text: str):
    return network_config(json.loads(text) if text.lstrip().startswith("{")
                          else text)


def train_step_benchmark(configs, batch: int, crop: int, stages: int,
                         threads: int, repeats: int = 3) -> None:
    """Best of `repeats` training steps (after one warm-up) in fp32 and
    under bf16 autocast, and one eager inference at 512^2, per network."""
    from .losses import multiscale_loss
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, crop, crop, generator=gen)
    y = torch.rand(batch, 3, crop, crop, generator=gen)
    print(f"{'network':<12} {'parameters':>10} {'fp32 step':>10} "
          f"{'bf16 step':>10} {'inference':>10}")
    for config in configs:
        torch.manual_seed(0)
        net = FDIKP(config).train()
        net.out_conv.reset_parameters()
        optimizer = torch.optim.Adam(net.parameters(), 1e-4)
        times = {}
        for amp in (None, torch.bfloat16):
            best = float("inf")
            for k in range(repeats + 1):
                start = time.perf_counter()
                with torch.autocast("cpu", dtype=amp or torch.float32,
                                    enabled=amp is not None):
                    outputs = net(x, stages)
                loss = multiscale_loss(outputs, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if k:
                    best = min(best, time.perf_counter() - start)
            times[amp] = best
        net.eval()
        image = torch.rand(1, 3, 512, 512, generator=gen)
        with torch.no_grad():
            net(image[..., :64, :64], stages)
            start = time.perf_counter()
            net(image, stages)
            inference = (time.perf_counter() - start) / (512 * 512 / 1e6)
        print(f"{config.name:<12} {count(net):>10,} "
              f"{times[None]:>9.2f}s {times[torch.bfloat16]:>9.2f}s "
              f"{inference:>6.1f}s/MP", flush=True)
    print(f"batch {batch} x {crop}^2, {stages} stages, {threads} threads; "
          f"inference: eager fp32 at 512^2")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m fdikp.summary",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", metavar="FILE.pt",
                        help="time one forward of an exported model")
    parser.add_argument("--config", action="append", type=parse_network,
                        help="network configuration: a name (fdikp, "
                             "fdikp-s) or a JSON object; repeat with "
                             "--train-step")
    parser.add_argument("--train-step", action="store_true",
                        help="time a training step of each --config")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--stages", type=int, default=TRAINED_STAGES)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    configs = args.config or [network_config("fdikp")]
    if args.benchmark:
        benchmark(args.benchmark, args.size, args.stages, args.threads)
    elif args.train_step:
        train_step_benchmark(configs, args.batch, args.crop, args.stages,
                             args.threads)
    else:
        print_breakdown(FDIKP(configs[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
