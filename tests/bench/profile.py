#!/usr/bin/env python3
"""Where the default model's CPU time goes, and what tiling costs it.

    python3 tests/bench/profile.py [--model data/fdikp-default.pt]
        [--engine-run build/engine/tools/fdikp-engine-run] [--threads 2]
        [--seams] [--groups] [--engine-groups [--shapes]] [--floor [--region 1024]
        [--photo-mp 24]] [--faults] [--photos N] [--tile 320]
        [--overlaps 0,16,32,64,96,128] [--precisions fp32,bf16] [--json OUT]

--seams   For N dev photos (1024 x 1024 DPDD blurry shots), the engine's
          output in tiles of --tile with each overlap against its untiled
          output: the largest difference, its 99.9th percentile and mean,
          in 8-bit levels, and the tiling overhead (pixels computed over
          pixels in the image: the tiles' areas, as engine/tiling.cc
          sizes them, over width x height). A network that is global within a tile
          (strip attention, the tone-keeping blur) differs from its
          untiled output everywhere, whatever the overlap; what a seam
          adds is a step: the mean over each column (row) boundary of
          the jump of tiled - untiled across it, largest within 16 px of
          a tile boundary (step_at_seams_levels) against largest
          elsewhere (step_elsewhere_levels), 8 px or more from the image
          border. Also each output's PSNR against the sharp target, and
          a summary per overlap over the photos. The overlap a model
          needs (fdikp.export --tile-overlap) is the smallest whose seam
          steps do not stand out from the steps elsewhere and whose
          PSNR matches the larger overlaps'.
--groups  One --tile tile through the TorchScript file in Python under
          torch.profiler: self CPU time by operator group (convolutions,
          FFTs, PAC's gather, attention, layout conversions, the rest).
          The engine runs a rewritten graph (fused channels-last
          convolutions), so its split differs; this shows the model's.
--engine-groups
          The same split for the engine itself, on its own graph: one
          dev photo through fdikp-engine-run with its automatic tiles,
          twice in one process, the second run recorded by LibTorch's
          profiler (--profile): self time by operator group, summed
          over threads, and the operators that take the most; with
          --shapes, each operator by its input shapes and types (the
          trace records them), so that one convolution is told from
          another and a cast from a layout change.
--floor  What the network's arithmetic alone costs, against what the
          engine takes: its FLOPs per computed pixel (convolutions and
          matrix products, torch.utils.flop_counter, on the model file
          at the engine's tile, less the zero channels the engine leaves
          out, counted on the same network built in Python with and
          without them), the pixels the engine computes for a
          --region x --region region (its tiles), untiled, and in the
          middle of a --photo-mp photo (the preview benchmark's case), the
          matrix-product peak of these cores (a large bfloat16 and
          float32 product at --threads), and one dev photo through the
          engine, recorded: its convolutions' time and rate, and the
          rest. The floor of a region is its FLOPs at that peak: no
          engine of this network computes it faster on these cores.
--faults  The engine on one photo, twice in one process, in each of
          --precisions (default fp32,bf16): seconds, s/MP, minor page
          faults (getrusage of the child) and peak memory, and bf16's
          speed and largest difference against fp32.

Every figure comes from this run; on a shared machine compare the rows of
one run, not figures across runs.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PAIRS = os.path.join(os.environ.get("FDIKP_DATA", os.path.join(REPO, "..", "shared", "data")),
                     "dpdd1024-dev")

GROUPS = (  # (group, substrings of the operator's name), first match wins
    ("convolution", ("conv", "mkldnn_convolution")),
    ("fft", ("fft",)),
    ("pac gather", ("grid_sampler", "gather", "index", "unfold", "im2col")),
    ("attention", ("attention", "softmax", "bmm", "matmul", "baddbmm", "addmm", "mm")),
    ("layout", ("copy_", "contiguous", "permute", "transpose", "clone", "to_dense",
                "reshape", "view", "cat", "stack", "pad", "_to_copy")),
)


def group_of(name):
    name = name.lower()
    return next((g for g, keys in GROUPS if any(k in name for k in keys)), "other")


def photos(count, sharp=False):
    """The first `count` dev pairs' blurry shots (name, H x W x 3 float32),
    with their sharp targets as a third item when `sharp`."""
    names = sorted(os.listdir(os.path.join(PAIRS, "blur")))[:count]
    out = []
    for name in names:
        item = [name]
        for part in ("blur", "sharp") if sharp else ("blur",):
            with Image.open(os.path.join(PAIRS, part, name)) as im:
                item.append(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0)
        out.append(tuple(item))
    return out


def psnr(a, b):
    """PSNR in dB of 8-bit-rounded a against b (both in [0, 1])."""
    a = np.round(np.clip(a, 0, 1) * 255.0) / 255.0
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-12)))


def engine(args, image, tile, overlap, repeat=1, precision="fp32", trace=None):
    """(output H x W x 3, the run lines' fields, minor faults, peak MiB);
    with `trace`, the last run's operators are written there
    (fdikp-engine-run --profile)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.npy"), os.path.join(tmp, "out.npy")
        np.save(src, image)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
        done = subprocess.run([args.engine_run, "--model", args.model, "--threads",
                               str(args.threads), "--tile-size", str(tile), "--tile-overlap",
                               str(overlap), "--repeat", str(repeat), "--precision", precision,
                               *(("--profile", trace) if trace else ()), src, dst],
                              capture_output=True, text=True)
        faults = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        runs = [dict(kv.split("=", 1) for kv in line.split())
                for line in done.stdout.splitlines() if line.startswith("device=")]
        peak = float(done.stdout.strip().splitlines()[-1].split("=")[1])
        return np.load(dst)[..., :3], runs, faults, peak


def seam_steps(error, tile_lines, border=8):
    """Mean |jump| of `error` (H x W) across each column and row boundary,
    8 px or more inside the image: (largest at a tile boundary, largest
    elsewhere, median), in the error's unit."""
    columns = np.abs(np.diff(error[border:-border], axis=1)).mean(axis=0)
    rows = np.abs(np.diff(error[:, border:-border], axis=0)).mean(axis=1)
    at, away = [], []
    for steps, lines in ((columns, tile_lines[0]), (rows, tile_lines[1])):
        near = np.zeros(len(steps), bool)
        for line in lines:  # the cross-fade around a core boundary
            near[max(line - 16, 0):line + 16] = True
        inside = np.zeros(len(steps), bool)
        inside[border:len(steps) - border] = True
        at.append(steps[near & inside])
        away.append(steps[~near & inside])
    at, away = np.concatenate(at), np.concatenate(away)
    return (float(at.max()) if len(at) else 0.0, float(away.max()),
            float(np.median(np.concatenate([at, away]))))


def axis_tiles(length, tile, overlap, multiple):
    """tiling.layout's tiles along one axis (engine/tiling.cc): the
    boundaries between their cores and their sizes."""
    if length <= tile:
        return [], [-(-length // multiple) * multiple]
    shared = min(max(overlap, 0), tile // 3) & ~1
    count = -(-length // (tile - shared))
    edges = [t * length // count for t in range(count + 1)]
    sizes = [min(tile, -(-(b - a + shared) // multiple) * multiple)
             for a, b in zip(edges, edges[1:])]
    return edges[1:-1], sizes


def seams(args):
    rows = []
    for name, image, sharp in photos(args.photos, sharp=True):
        height, width = image.shape[:2]
        whole, _, _, _ = engine(args, image, max(height, width), 0)
        for overlap in args.overlaps:
            tiled, runs, _, _ = engine(args, image, args.tile, overlap)
            diff = np.abs(tiled - whole) * 255.0
            tiles = int(runs[-1]["tiles"])
            error = (tiled - whole).mean(axis=2) * 255.0
            (xlines, xsizes), (ylines, ysizes) = (
                axis_tiles(width, args.tile, overlap, args.multiple),
                axis_tiles(height, args.tile, overlap, args.multiple))
            at_seams, elsewhere, median = seam_steps(error, (xlines, ylines))
            row = {"photo": name, "tile": args.tile, "overlap": overlap, "tiles": tiles,
                   "overhead": sum(xsizes) * sum(ysizes) / (width * height),
                   "max_levels": float(diff.max()),
                   "p999_levels": float(np.percentile(diff, 99.9)),
                   "mean_levels": float(diff.mean()),
                   "step_at_seams_levels": at_seams,
                   "step_elsewhere_levels": elsewhere,
                   "step_median_levels": median,
                   "psnr_input": psnr(image, sharp),
                   "psnr_untiled": psnr(whole, sharp),
                   "psnr_tiled": psnr(tiled, sharp),
                   "seconds": float(runs[-1]["seconds"])}
            rows.append(row)
            print("%-14s tile %d overlap %3d: %2d tiles, overhead %.2fx, |tiled - whole| "
                  "max %.1f, p99.9 %.2f, mean %.3f levels; step across lines at seams %.3f, "
                  "elsewhere %.3f, median %.3f levels; PSNR untiled %.3f, tiled %.3f dB; %.1f s"
                  % (name, args.tile, overlap, tiles, row["overhead"], row["max_levels"],
                     row["p999_levels"], row["mean_levels"], at_seams, elsewhere, median,
                     row["psnr_untiled"], row["psnr_tiled"], row["seconds"]), flush=True)
    print("over %d photos, tile %d:" % (len(rows) // len(args.overlaps), args.tile))
    for overlap in args.overlaps:
        mine = [r for r in rows if r["overlap"] == overlap]
        print("  overlap %3d: gain over the input untiled %+.4f dB, tiled %+.4f dB; "
              "largest PSNR change %.4f dB; step at seams max %.3f (elsewhere %.3f) levels; "
              "mean |tiled - whole| %.3f levels"
              % (overlap, np.mean([r["psnr_untiled"] - r["psnr_input"] for r in mine]),
                 np.mean([r["psnr_tiled"] - r["psnr_input"] for r in mine]),
                 max(abs(r["psnr_tiled"] - r["psnr_untiled"]) for r in mine),
                 max(r["step_at_seams_levels"] for r in mine),
                 max(r["step_elsewhere_levels"] for r in mine),
                 np.mean([r["mean_levels"] for r in mine])), flush=True)
    return rows


def groups(args):
    import torch
    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.join(REPO, "model"))
    from fdikp.evaluate import file_default_stages
    stages = file_default_stages(args.model)
    model = torch.jit.load(args.model, map_location="cpu").eval()
    image = photos(1)[0][1][:args.tile, :args.tile]
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    with torch.no_grad():
        model(x, stages)  # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model(x, stages)
    totals = defaultdict(float)
    for event in prof.key_averages():
        totals[group_of(event.key)] += event.self_cpu_time_total / 1e6
    total = sum(totals.values())
    for group, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print("%-12s %7.3f s  %5.1f %%" % (group, seconds, 100 * seconds / total))
    return {"tile": args.tile, "seconds": dict(totals), "total_s": total}


def self_times(trace, shapes=False):
    """{operator name: self microseconds} from a Chrome trace's complete
    events: each event's duration less its children's on the same thread.
    With shapes, the key is the name and the input shapes the trace
    recorded ("Input Dims"), so one convolution is told from another."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    by_thread = defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            name = e["name"]
            if name.startswith("PyTorch Profiler"):
                continue  # Kineto's span around the whole recording
            if shapes:
                info = e.get("args", {})
                dims = [d if t in ("float", "") else [t] + d
                        for d, t in zip(info.get("Input Dims", []), info.get("Input type", []))
                        if d]
                name += " " + json.dumps(dims, separators=(",", ":")).replace('"', "")
            by_thread[e.get("tid")].append((float(e["ts"]), float(e["dur"]), name))
    totals = defaultdict(float)
    for spans in by_thread.values():
        spans.sort(key=lambda span: (span[0], -span[1]))
        stack = []  # [end, name]
        for start, dur, name in spans:
            while stack and stack[-1][0] <= start:
                stack.pop()
            if stack:
                totals[stack[-1][1]] -= dur
            totals[name] += dur
            stack.append((start + dur, name))
    return totals


def engine_groups(args):
    name, image = photos(1)[0]
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "trace.json")
        # The engine's own choices: automatic tile (0), the model's overlap
        # (-1) and precision (auto).
        _, runs, _, _ = engine(args, image, 0, -1, repeat=2, precision="auto", trace=trace)
        with open(trace) as f:
            events = json.load(f)
    totals = self_times(events, shapes=args.shapes)
    seconds = defaultdict(float)
    for op, us in totals.items():
        seconds[group_of(op)] += us / 1e6
    total = sum(seconds.values())
    print("engine on %s (%d tiles of %s px, recorded run %s s, unrecorded %s s):"
          % (name, int(runs[-1]["tiles"]), runs[-1]["tile_size"], runs[-1]["seconds"],
             runs[0]["seconds"]))
    for group, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print("  %-12s %7.3f s  %5.1f %%" % (group, s, 100 * s / total))
    top = sorted(totals.items(), key=lambda kv: -kv[1])[:args.top]
    print("  operators taking the most (self time%s):"
          % (", by input shapes" if args.shapes else ""))
    for op, us in top:
        share = 100 * us / 1e6 / total
        print("    %-44s %7.3f s  %5.1f %%  (%s)" % (op, us / 1e6, share, group_of(op)))
    return {"photo": name, "tiles": int(runs[-1]["tiles"]), "tile": int(runs[-1]["tile_size"]),
            "recorded_run_s": float(runs[-1]["seconds"]),
            "unrecorded_run_s": float(runs[0]["seconds"]),
            "seconds": dict(seconds), "total_s": total,
            "operators_s": {op: us / 1e6 for op, us in top}}


def matmul_peak(threads, dtype, side=2048, runs=5):
    """GFLOP/s of a side x side matrix product in `dtype` at `threads`."""
    import torch
    torch.set_num_threads(threads)
    a, b = torch.rand(side, side).to(dtype), torch.rand(side, side).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * side ** 3 / best / 1e9


def zero_channel_flops(name, tile, stages):
    """The FLOPs per tile x tile tile of the zero channels the model pads
    its block-aligned convolutions with (fdikp.layers.BlockAlignedConv2d),
    which the engine leaves out (engine/cpu_graph_trim.cc): the network
    `name` counted as the model computes it less as the engine does."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    sys.path.insert(0, os.path.join(REPO, "model"))
    from fdikp import layers
    from fdikp.registry import build_network
    net = build_network(name).eval()
    x = torch.rand(1, 3, tile, tile)
    counts = []
    padded = layers.BlockAlignedConv2d.forward
    for forward in (padded, torch.nn.Conv2d.forward):
        layers.BlockAlignedConv2d.forward = forward
        try:
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                net(x, stages)
        finally:
            layers.BlockAlignedConv2d.forward = padded
        counts.append(counter.get_total_flops())
    return counts[0] - counts[1]


def flops_per_pixel(args, tile):
    """(all, convolutions') FLOPs per pixel of one tile x tile tile as the
    engine computes them: the model file at its default stages (the
    engine's), less the zero channels the engine leaves out; and the
    file's own count."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    done = subprocess.run([args.engine_run, "--model", args.model, "--inspect"],
                          capture_output=True, text=True, check=True)
    stages = int(done.stdout.split("default_stages=")[1].split()[0])
    name = done.stdout.split("name=")[1].split()[0]
    net = torch.jit.load(args.model).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.rand(1, 3, tile, tile), stages)
    counts = counter.get_flop_counts()["Global"]
    conv = sum(v for op, v in counts.items() if "convolution" in str(op))
    zeros = zero_channel_flops(name, tile, stages)
    pixels = float(tile * tile)
    return ((counter.get_total_flops() - zeros) / pixels, (conv - zeros) / pixels,
            counter.get_total_flops() / pixels)


def computed_pixels(side, tile, overlap, multiple):
    """Pixels the engine computes for a side x side image (its tiles)."""
    _, sizes = axis_tiles(side, tile, overlap, multiple)
    return sum(sizes) ** 2


def region_pixels(length, start, side, tile, overlap, multiple):
    """Pixels along one axis of the tiles that a region [start, start +
    side) of an image `length` long touches: the engine computes each tile
    whose core it overlaps, on the whole image's grid (so that a preview
    shows the pixels of the real run)."""
    inner, sizes = axis_tiles(length, tile, overlap, multiple)
    edges = [0] + inner + [length]
    return sum(size for a, b, size in zip(edges, edges[1:], sizes)
               if a < start + side and b > start)


def floor(args):
    name, image = photos(1)[0]
    one = argparse.Namespace(**dict(vars(args), threads=1))
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "trace.json")
        # One thread, so that the convolutions' recorded time is the CPU
        # time they take (the profiler's threads would overlap otherwise).
        _, runs, _, _ = engine(one, image, 0, -1, repeat=2, precision="auto", trace=trace)
        with open(trace) as f:
            totals = self_times(json.load(f))
    tile, precision = int(runs[-1]["tile_size"]), runs[-1]["precision"]
    overlap = int(runs[-1]["tile_overlap"])
    per_pixel, conv_per_pixel, file_per_pixel = flops_per_pixel(args, tile)
    conv_s = sum(us for op, us in totals.items() if group_of(op) == "convolution") / 1e6
    all_s = sum(totals.values()) / 1e6
    dtype = "bfloat16" if precision == "bf16" else "float32"
    peak = {threads: matmul_peak(threads, getattr(__import__("torch"), dtype))
            for threads in sorted({1, args.threads})}
    photo_conv = conv_per_pixel * computed_pixels(image.shape[0], tile, overlap, args.multiple)
    tiled = per_pixel * computed_pixels(args.region, tile, overlap, args.multiple)
    untiled = per_pixel * args.region * args.region
    # The preview benchmark's region: the middle of a 3:2 photo.
    width = int(round((args.photo_mp * 1e6 * 1.5) ** 0.5))
    height = int(round(width / 1.5))
    on_grid = per_pixel * (
        region_pixels(width, (width - args.region) // 2, args.region, tile, overlap,
                      args.multiple)
        * region_pixels(height, (height - args.region) // 2, args.region, tile, overlap,
                        args.multiple))
    result = {
        "photo": name, "tile": tile, "overlap": overlap, "precision": precision,
        "gflop_per_mp": per_pixel / 1e3, "model_file_gflop_per_mp": file_per_pixel / 1e3,
        "matmul_peak_gflops": peak,
        "one_thread_recorded_s": all_s, "one_thread_conv_s": conv_s,
        "conv_gflops_one_thread": photo_conv / conv_s / 1e9,
        "region": args.region, "threads": args.threads,
        "region_gflop_tiled": tiled / 1e9, "region_gflop_untiled": untiled / 1e9,
        "region_floor_s_tiled": tiled / peak[args.threads] / 1e9,
        "region_floor_s_untiled": untiled / peak[args.threads] / 1e9,
        "preview_photo": [width, height], "region_in_photo_gflop": on_grid / 1e9,
        "region_in_photo_floor_s": on_grid / peak[args.threads] / 1e9,
    }
    print("network: %.0f GFLOP per megapixel computed (%d-px tiles), %s, as the engine runs it "
          "(%.0f as the model file computes it, with its zero channels)"
          % (result["gflop_per_mp"], tile, precision, result["model_file_gflop_per_mp"]))
    print("these cores: %s matrix product %s GFLOP/s" % (dtype, ", ".join(
        "%.0f at %d thread%s" % (v, k, "s" if k > 1 else "") for k, v in peak.items())))
    print("engine on %s, 1 thread, recorded: %.2f s, the convolutions %.2f s (%.0f %%) "
          "at %.0f GFLOP/s" % (name, all_s, conv_s, 100 * conv_s / all_s,
                               result["conv_gflops_one_thread"]))
    print("a %d x %d region: %.0f GFLOP in its tiles (%.0f untiled); at the matrix-product "
          "peak of %d threads that alone is %.2f s (%.2f s untiled)"
          % (args.region, args.region, result["region_gflop_tiled"],
             result["region_gflop_untiled"], args.threads, result["region_floor_s_tiled"],
             result["region_floor_s_untiled"]))
    print("the same region in the middle of a %d x %d photo (its tiles on the photo's grid): "
          "%.0f GFLOP, at least %.2f s" % (width, height, result["region_in_photo_gflop"],
                                           result["region_in_photo_floor_s"]))
    return result


def faults(args):
    name, image = photos(1)[0]
    megapixels = image.shape[0] * image.shape[1] / 1e6
    result = {"photo": name}
    outputs = {}
    for precision in args.precisions:
        out, runs, count, peak = engine(args, image, 0, 64, repeat=2, precision=precision)
        outputs[precision] = out
        row = {"runs_s": [float(r["seconds"]) for r in runs],
               "s_per_mp": [float(r["seconds"]) / megapixels for r in runs],
               "minor_faults": count, "peak_rss_mib": peak,
               "tile": int(runs[-1]["tile_size"]), "precision": runs[-1]["precision"]}
        result[precision] = row
        print("engine, %s, automatic tile %d: %s s (%s s/MP), %d minor page faults, peak %.0f MiB"
              % (row["precision"], row["tile"], " / ".join("%.2f" % s for s in row["runs_s"]),
                 " / ".join("%.1f" % s for s in row["s_per_mp"]), count, peak), flush=True)
    if "fp32" in outputs and "bf16" in outputs:
        diff = np.abs(outputs["bf16"] - outputs["fp32"]) * 255.0
        result["bf16_speedup"] = result["fp32"]["runs_s"][-1] / result["bf16"]["runs_s"][-1]
        result["bf16_max_levels"] = float(diff.max())
        print("bf16 against fp32: %.2fx (second runs), largest difference %.2f levels"
              % (result["bf16_speedup"], result["bf16_max_levels"]))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.path.join(REPO, "data", "fdikp-default.pt"))
    parser.add_argument("--engine-run", default=os.path.join(
        REPO, "build", "engine", "tools", "fdikp-engine-run"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seams", action="store_true")
    parser.add_argument("--groups", action="store_true")
    parser.add_argument("--engine-groups", action="store_true")
    parser.add_argument("--top", type=int, default=15,
                        help="--engine-groups lists this many operators")
    parser.add_argument("--shapes", action="store_true",
                        help="with --engine-groups: list operators by their input shapes")
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--region", type=int, default=1024,
                        help="--floor: the side of the square region it prices")
    parser.add_argument("--photo-mp", type=float, default=24.0,
                        help="--floor: and the same region in a photo this large")
    parser.add_argument("--photos", type=int, default=2)
    parser.add_argument("--tile", type=int, default=320)
    parser.add_argument("--multiple", type=int, default=16,
                        help="the model's tile multiple, for the overhead column "
                             "(16: FDIKP at 3 stages)")
    parser.add_argument("--overlaps", default="0,16,32,64,96,128")
    parser.add_argument("--precisions", default="fp32,bf16",
                        help="--faults runs the engine in each (fdikp-engine-run --precision)")
    parser.add_argument("--json")
    args = parser.parse_args()
    args.overlaps = [int(v) for v in args.overlaps.split(",")]
    args.precisions = args.precisions.split(",")
    if not (args.seams or args.groups or args.engine_groups or args.faults or args.floor):
        args.seams = args.groups = args.engine_groups = args.faults = True
    if not os.path.isdir(PAIRS):
        print("profile: no dev pairs at %s (set FDIKP_DATA)" % PAIRS, file=sys.stderr)
        return 77
    result = {"model": args.model, "threads": args.threads}
    if args.groups:
        result["groups"] = groups(args)
    if args.engine_groups:
        result["engine_groups"] = engine_groups(args)
    if args.floor:
        result["floor"] = floor(args)
    if args.faults:
        result["faults"] = faults(args)
    if args.seams:
        result["seams"] = seams(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
