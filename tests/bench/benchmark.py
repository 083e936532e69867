#!/usr/bin/env python3
"""The performance benchmark: what a user waits for, and what memory it takes.

    python3 tests/bench/benchmark.py --engine-run build/engine/tools/fdikp-engine-run
        [--weights CKPT.pt | --random-init] [--engine-model FILE.pt]
        [--sizes 0.25,1,4,16,24] [--long]
        [--compare 0.25,1] [--fidelity N] [--threads 2] [--device cpu|cuda]
        [--json out.json]

Prints tables and writes the figures as JSON:

1. FLOPs per megapixel of the model (convolutions and matrix products, as
   counted by torch.utils.flop_counter; FFTs are not counted) and the time
   floor that count implies at the CPU's measured matrix-product rate.
2. The C++ engine (fdikp-engine-run, its own process each time) at each
   size: seconds per megapixel, peak resident memory, the tile it chose.
3. The same weights and input run untiled by PyTorch eager in Python, by
   the TorchScript file in Python, and by the C++ engine with one tile:
   seconds (after one warm-up run on the same input), ratios, and the
   largest difference between their outputs.
4. Tiling fidelity: PSNR of tiled against untiled engine output on real
   DPDD pairs (what a user loses by tiling), for several tile sizes and
   overlaps, with each one's PSNR against the sharp target.

5. A summary: the engine with its automatic tiles on the first --sizes
   size and the largest, in s/MP, against untiled PyTorch eager on the
   first --compare size, and the ratio (the performance issue's figure:
   the shipped model is run with --weights of its training state and
   --engine-model data/fdikp-default.pt, the file users get, whose
   metadata, e.g. its tile overlap, the engine then plans with).

Every process is timed on its own (a fresh interpreter or engine process),
so memory figures are that process's peak. On a shared machine compare
ratios measured in one run, not absolute times across runs.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "model"))

SIDES = {0.25: (512, 512), 1: (1024, 1024), 4: (2048, 2048), 16: (4096, 4096),
         24: (6000, 4000), 50: (8660, 5774)}
DPDD_FRAME = (1680, 1120)


# ---------------------------------------------------------------- workers --

def worker(args):
    """Runs one model untiled in this process: --worker eager|script."""
    import torch
    torch.set_num_threads(args.threads)
    image = np.load(args.input)
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    if args.worker == "eager":
        from fdikp.export import DeblurModel
        from fdikp.registry import load_network
        model = DeblurModel(load_network(args.weights)).eval()
    else:
        model = torch.jit.load(args.model)
    times = []
    with torch.inference_mode():
        for _ in range(args.repeat):
            start = time.perf_counter()
            y = model(x, args.stages)
            times.append(time.perf_counter() - start)
    np.save(args.output, y[0].permute(1, 2, 0).contiguous().numpy())
    print(json.dumps({"seconds": times}))
    print(f"peak_rss_mib={peak_rss_mib():.1f}")


def peak_rss_mib():
    """This process's peak resident memory (VmHWM). Not getrusage's
    ru_maxrss: Linux carries the parent's resident size at fork across exec
    into the child's, so a child of this 1-2 GB process would report that."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def run_measured(command, env=None):
    """Runs command (which prints peak_rss_mib=N last); returns (stdout,
    that peak resident memory in MiB)."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    last = result.stdout.strip().splitlines()[-1]
    if not last.startswith("peak_rss_mib="):
        raise RuntimeError(f"{' '.join(command)} did not report its memory: {last!r}")
    return result.stdout, float(last.split("=")[1])


def engine_times(stdout):
    runs = [dict(kv.split("=") for kv in line.split()) for line in stdout.splitlines()
            if line.startswith("device=")]
    return runs


# ----------------------------------------------------------------- inputs --

def photo(width, height, data_dir):
    """A real defocused photo, tiled and cropped to width x height."""
    names = sorted(os.listdir(os.path.join(data_dir, "dpdd1024-dev", "blur")))
    tiles = []
    for name in names[:4]:
        with Image.open(os.path.join(data_dir, "dpdd1024-dev", "blur", name)) as im:
            tiles.append(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0)
    row = np.concatenate(tiles, axis=1)
    reps_y = math.ceil(height / row.shape[0])
    reps_x = math.ceil(width / row.shape[1])
    big = np.tile(row, (reps_y, reps_x, 1))
    return np.ascontiguousarray(big[:height, :width])


def psnr(a, b):
    """PSNR of two H x W x 3 arrays, by the project's evaluation metric."""
    import torch
    from fdikp.metrics import psnr as batch_psnr

    def as_batch(x):
        return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None]
    return float(batch_psnr(as_batch(a), as_batch(b))[0])


# --------------------------------------------------------------- sections --

def flops_per_megapixel(weights, stages, threads):
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from fdikp.registry import load_network
    torch.set_num_threads(threads)
    net = load_network(weights)
    side = 256
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(torch.rand(1, 3, side, side), stages)
    flops = counter.get_total_flops() / (side * side / 1e6)
    n = 2048
    a, b = torch.rand(n, n), torch.rand(n, n)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(3):
        torch.mm(a, b)
    rate = 3 * 2 * n ** 3 / (time.perf_counter() - start)
    return flops, rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine-run", default=os.path.join(
        REPO, "build", "engine", "tools", "fdikp-engine-run"))
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--weights", help="FDIKP checkpoint (exported for the engine here)")
    parser.add_argument("--engine-model", metavar="FILE.pt",
                        help="the model file the engine runs in the automatic-tile table "
                             "(default: --weights exported here); the untiled comparison "
                             "always runs the export of --weights")
    source.add_argument("--random-init", action="store_true",
                        help="an untrained network: valid for timing and memory only")
    parser.add_argument("--sizes", default="0.25,1,4,16", help="megapixels for the engine table")
    parser.add_argument("--long", action="store_true", help="add 50 MP to the engine table")
    parser.add_argument("--compare", default="0.25,1",
                        help="megapixels for eager / TorchScript / engine comparison (0 = skip)")
    parser.add_argument("--fidelity", type=int, default=2,
                        help="DPDD pairs for the tiling-fidelity table (0 = skip)")
    parser.add_argument("--fidelity-tiles", default="256,512")
    parser.add_argument("--fidelity-overlaps", default="32,64")
    parser.add_argument("--stages", type=int, default=None,
                        help="stage count (default: the network's own)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--data", default=os.environ.get(
        "FDIKP_DATA", os.path.join(REPO, "..", "shared", "data")))
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--worker", choices=["eager", "script"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if not (args.weights or args.random_init):
        parser.error("give --weights CKPT.pt or --random-init")

    import torch
    from fdikp.export import export
    from fdikp.network import FDIKP

    tmp = tempfile.TemporaryDirectory()
    weights = args.weights
    if args.random_init:
        torch.manual_seed(0)
        weights = os.path.join(tmp.name, "random.pt")
        net = FDIKP()
        net.out_conv.reset_parameters()  # random, not the identity start
        torch.save({"model": net.state_dict()}, weights)
    from fdikp.registry import default_stages_of, load_network
    model_file = os.path.join(tmp.name, "model.pt")
    net = load_network(weights)
    if args.stages is None:
        args.stages = default_stages_of(net)
    export(net, model_file, training="benchmark copy")
    label = "random weights (timing and memory only)" if args.random_init else weights
    results = {"weights": label, "stages": args.stages, "threads": args.threads,
               "device": args.device}
    print(f"# FDIKP benchmark: {label}; {args.stages} stages; {args.threads} CPU threads; "
          f"device {args.device}")
    runtime = subprocess.run([args.engine_run, '--runtime'], capture_output=True, text=True)
    print(f"# {runtime.stdout.strip()}")

    flops, rate = flops_per_megapixel(weights, args.stages, args.threads)
    results["gflop_per_mp"] = flops / 1e9
    results["cpu_matmul_gflops"] = rate / 1e9
    print(f"\n## Cost: {flops / 1e9:.0f} GFLOP per megapixel (convolutions and matrix products);"
          f" CPU matrix product rate {rate / 1e9:.0f} GFLOP/s -> floor {flops / rate:.1f} s/MP")

    def engine(image, tile, repeat=1, overlap=64, graph=None, keep=True, model=None):
        """Runs the engine; graph picks its CPU graph (FDIKP_CPU_GRAPH);
        keep=False does not read the output back (a 50 MP one is 600 MB);
        overlap -1 is the model's own."""
        path_in = os.path.join(tmp.name, "in.npy")
        path_out = os.path.join(tmp.name, "engine.npy")
        np.save(path_in, image)
        env = dict(os.environ)
        env.pop("FDIKP_CPU_GRAPH", None)
        if graph:
            env["FDIKP_CPU_GRAPH"] = graph
        out, rss = run_measured([args.engine_run, "--model", model or model_file, "--stages",
                                 str(args.stages), "--tile-size", str(tile),
                                 "--tile-overlap", str(overlap), "--device",
                                 args.device, "--threads", str(args.threads), "--repeat",
                                 str(repeat), path_in, path_out], env)
        return engine_times(out), rss, np.load(path_out) if keep else None

    sizes = [float(s) for s in args.sizes.split(",") if s] + ([50] if args.long else [])
    results["engine"] = []
    engine_model = args.engine_model or model_file
    results["engine_model"] = engine_model if args.engine_model else "export of the weights"
    print(f"\n## C++ engine, automatic tiles and overlap ({results['engine_model']}; "
          f"first run in its process: model load and graph rewrite included)\n")
    print("| image | megapixels | tile | overlap | tiles | seconds | s/MP | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for mp in sizes:
        width, height = SIDES[mp]
        runs, rss, _ = engine(photo(width, height, args.data), 0, overlap=-1, keep=False,
                              model=engine_model)
        seconds = float(runs[-1]["seconds"])
        real_mp = width * height / 1e6
        row = {"width": width, "height": height, "tile": int(runs[-1]["tile_size"]),
               "overlap": int(runs[-1]["tile_overlap"]),
               "tiles": int(runs[-1]["tiles"]), "seconds": seconds,
               "seconds_per_mp": seconds / real_mp, "peak_rss_mib": rss}
        results["engine"].append(row)
        print(f"| {width} x {height} | {real_mp:.2f} | {row['tile']} | {row['overlap']} | "
              f"{row['tiles']} | {seconds:.1f} | {seconds / real_mp:.1f} | {rss:.0f} |",
              flush=True)

    results["compare"] = []
    print("\n## Same weights, same input, untiled (second of two runs)\n")
    print("| image | eager s | TorchScript (Python) s |"
          " engine, LibTorch's optimize_for_inference s |"
          " C++ engine s | eager / engine | TorchScript / engine | max abs diff |"
          " peak RSS MiB eager / TS / engine |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mp in [float(s) for s in args.compare.split(",") if s and float(s) > 0]:
        width, height = SIDES[mp]
        image = photo(width, height, args.data)
        path_in = os.path.join(tmp.name, "cmp.npy")
        np.save(path_in, image)
        timings, outputs, memory = {}, {}, {}
        for kind in ("eager", "script"):
            path_out = os.path.join(tmp.name, f"{kind}.npy")
            out, memory[kind] = run_measured(
                [sys.executable, os.path.abspath(__file__), "--worker", kind, "--weights",
                 weights, "--model", model_file, "--input", path_in, "--output", path_out,
                 "--stages", str(args.stages), "--threads", str(args.threads)])
            timings[kind] = json.loads(out.strip().splitlines()[-2])["seconds"][-1]
            outputs[kind] = np.load(path_out)
        if args.device == "cpu":
            runs, memory["onednn"], outputs["onednn"] = engine(image, max(width, height) + 64, 2,
                                                               graph="oneDNN")
            timings["onednn"] = float(runs[-1]["seconds"])
        runs, memory["engine"], outputs["engine"] = engine(image, max(width, height) + 64, 2)
        timings["engine"] = float(runs[-1]["seconds"])
        diff = max(float(np.abs(outputs[k] - outputs["engine"]).max())
                   for k in outputs if k != "engine")
        row = {"width": width, "height": height, **{f"{k}_seconds": v for k, v in timings.items()},
               **{f"{k}_peak_rss_mib": v for k, v in memory.items()}, "max_abs_diff": diff}
        results["compare"].append(row)
        onednn = f"{timings['onednn']:.2f}" if "onednn" in timings else "-"
        print(f"| {width} x {height} | {timings['eager']:.2f} | {timings['script']:.2f} | "
              f"{onednn} | {timings['engine']:.2f} | {timings['eager'] / timings['engine']:.2f} | "
              f"{timings['script'] / timings['engine']:.2f} | {diff:.1e} | "
              f"{memory['eager']:.0f} / {memory['script']:.0f} / {memory['engine']:.0f} |",
              flush=True)

    if results["engine"] and results["compare"]:
        first, largest = results["engine"][0], max(results["engine"],
                                                   key=lambda r: r["width"] * r["height"])
        eager = results["compare"][0]
        eager_per_mp = eager["eager_seconds"] / (eager["width"] * eager["height"] / 1e6)
        results["summary"] = {"engine_seconds_per_mp": first["seconds_per_mp"],
                              "engine_largest_seconds_per_mp": largest["seconds_per_mp"],
                              "eager_untiled_seconds_per_mp": eager_per_mp,
                              "eager_over_engine": eager_per_mp / first["seconds_per_mp"]}
        print(f"\n## Summary\n\nengine, automatic tiles: {first['seconds_per_mp']:.2f} s/MP at "
              f"{first['width']} x {first['height']}, {largest['seconds_per_mp']:.2f} s/MP at "
              f"{largest['width']} x {largest['height']}; PyTorch eager untiled at "
              f"{eager['width']} x {eager['height']}: {eager_per_mp:.2f} s/MP; the engine is "
              f"{eager_per_mp / first['seconds_per_mp']:.2f}x eager", flush=True)

    if args.fidelity > 0:
        pairs = os.path.join(args.data, "dpdd1024-dev")
        names = sorted(os.listdir(os.path.join(pairs, "blur")))[:args.fidelity]
        tiles = [int(t) for t in args.fidelity_tiles.split(",")]
        overlaps = [int(o) for o in args.fidelity_overlaps.split(",")]
        results["fidelity"] = []
        print(f"\n## Tiling fidelity on {len(names)} DPDD pair(s), 1024 x 1024\n")
        print("| tile | overlap | PSNR tiled vs untiled dB |"
              " PSNR vs sharp dB (untiled: see first row) |")
        print("|---|---|---|---|")

        def load(p):
            return np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255.0
        untiled = {}
        for name in names:
            _, _, untiled[name] = engine(load(os.path.join(pairs, "blur", name)), 1088)
        sharp_untiled = np.mean([psnr(untiled[n], load(os.path.join(pairs, "sharp", n)))
                                 for n in names])
        print(f"| untiled | - | inf | {sharp_untiled:.2f} |")
        for tile in tiles:
            for overlap in overlaps:
                vs_untiled, vs_sharp = [], []
                for name in names:
                    _, _, out = engine(load(os.path.join(pairs, "blur", name)), tile,
                                       overlap=overlap)
                    vs_untiled.append(psnr(out, untiled[name]))
                    vs_sharp.append(psnr(out, load(os.path.join(pairs, "sharp", name))))
                row = {"tile": tile, "overlap": overlap,
                       "psnr_vs_untiled": float(np.mean(vs_untiled)),
                       "psnr_vs_sharp": float(np.mean(vs_sharp)),
                       "psnr_vs_sharp_untiled": float(sharp_untiled)}
                results["fidelity"].append(row)
                print(f"| {tile} | {overlap} | {row['psnr_vs_untiled']:.2f} | "
                      f"{row['psnr_vs_sharp']:.2f} |", flush=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
