"""What travels to and from the lent GPU machine (see model/README.md).

Here, before a window:
    python3 model/device/device.py pack-data [--data DIR] [--out .device/data]
        a compact copy of the training data (photos re-encoded at <= 768
        px, depth maps in float16) and exactly the real validation crops
        the committed runs validate on; refuses when the repository plus
        the data would not fit the 64 MiB carry limit
    python3 model/device/device.py check-size [--carry .device/data ...]
        what would travel (tracked files + carried paths), against 64 MiB
On the machine (model/device/window.sh calls these):
    python3 model/device/device.py gpu-timing --engine EXE --weights CKPT --out DIR
    python3 model/device/device.py throughput RUN_DIR
Here, after a window:
    python3 model/device/device.py collect OUT_DIR
        each configuration's state and log into model/checkpoints/<config>/,
        only when it is further on than the committed one

Run from the repository root.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))

from fdikp import plot  # noqa: E402
from fdikp.image_io import centre_crop, list_pairs, load_image  # noqa: E402
from fdikp.synth import data_dir, save_png  # noqa: E402
from fdikp.train_config import TrainConfig  # noqa: E402

CARRY_LIMIT = 64 * 2 ** 20   # the run tool's limit: tracked files + carry
FILE_LIMIT = 16 * 2 ** 20    # one file brought back through $OUT
PHOTO_SIDE = 768       # below SynthConfig.work_side (1024) to fit the budget
PHOTO_QUALITY = 86
# The runs a GPU window continues (model/checkpoints/<run>) and the network
# each trains: fdikp-s-psnr is the CPU chunks' run (so GPU and CPU steps add
# up on one curve), fdikp the paper-size network.
RUNS = {"fdikp-s-psnr": "fdikp-s", "fdikp": "fdikp"}
CONFIGS = tuple(RUNS)


def folder_bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f))
               for d, _, fs in os.walk(path) for f in fs)


def travelling_bytes(carry) -> int:
    """Tracked files (as they are in the working tree) plus carried paths.
    """
    listed = subprocess.run(["git", "ls-files", "-z"], check=True,
                            capture_output=True).stdout.split(b"\0")
    tracked = sum(os.path.getsize(p) for p in
                  (n.decode() for n in listed if n) if os.path.isfile(p))
    return tracked + sum(folder_bytes(c) for c in carry if os.path.exists(c))


def check_size(carry) -> bool:
    total = travelling_bytes(carry)
    print("travels: %.1f MiB (tracked files + %s) of %.0f MiB"
          % (total / 2 ** 20, " + ".join(carry) or "nothing",
             CARRY_LIMIT / 2 ** 20))
    if total > CARRY_LIMIT:
        print("over the limit: shrink .device/data (pack-data --photo-side) "
              "or the committed state", file=sys.stderr)
        return False
    return True


def validation_pairs():
    """(count, crop) of the real validation of the committed runs: the
    packed crops must be exactly those, so that GPU and CPU chunks score
    the same images."""
    wanted = set()
    for config in CONFIGS:
        state = os.path.join("model", "checkpoints", config, "last.pt")
        if os.path.isfile(state):
            saved = torch.load(state, map_location="cpu",
                               weights_only=True)["config"]
            wanted.add((saved["real_count"], saved["real_crop"]))
    if not wanted:
        defaults = TrainConfig()
        wanted.add((defaults.real_count, defaults.real_crop))
    if len(wanted) > 1:
        sys.exit("the committed runs validate on different real crops: %r"
                 % sorted(wanted))
    return wanted.pop()


def pack_data(data: str, out: str) -> None:
    if os.path.isdir(out):
        shutil.rmtree(out)
    photos = os.path.join(out, "train-photos")
    os.makedirs(photos)
    for path in sorted(glob.glob(os.path.join(data, "train-photos", "*"))):
        if not path.lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        with Image.open(path) as image:
            image = image.convert("RGB")
            scale = min(1.0, PHOTO_SIDE / max(image.size))
            size = (round(image.width * scale), round(image.height * scale))
            if size != image.size:
                image = image.resize(size, Image.LANCZOS)
            name = os.path.splitext(os.path.basename(path))[0] + ".jpg"
            image.save(os.path.join(photos, name), quality=PHOTO_QUALITY,
                       subsampling=0)

    for folder in sorted(glob.glob(os.path.join(data, "train-depth", "*"))):
        meta_path = os.path.join(folder, "meta.json")
        if not os.path.isfile(meta_path):
            continue
        with open(meta_path) as f:
            meta = json.load(f)
        target = os.path.join(out, "train-depth", os.path.basename(folder))
        os.makedirs(target)
        files = meta["files"]
        key = "disparity_npy" if "disparity_npy" in files else "depth_npy"
        np.save(os.path.join(target, files[key]),
                np.load(os.path.join(folder, files[key])).astype(np.float16))
        Image.open(os.path.join(folder, files["image"])).convert("RGB").save(
            os.path.join(target, "image.jpg"), quality=95, subsampling=0)
        meta["files"] = {"image": "image.jpg", key: files[key]}
        with open(os.path.join(target, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)

    # Exactly the pairs and crops fdikp.train validates on by default.
    count, crop = validation_pairs()
    pairs = os.path.join(data, "dpdd1024-dev")
    names = list_pairs(pairs)
    spacing = max(1, len(names) // count)
    for name in names[::spacing][:count]:
        for sub in ("blur", "sharp"):
            os.makedirs(os.path.join(out, "dpdd1024-dev", sub), exist_ok=True)
            save_png(centre_crop(load_image(os.path.join(pairs, sub, name)),
                                 crop),
                     os.path.join(out, "dpdd1024-dev", sub, name))

    print("packed %s: %.1f MiB (real validation: %d crops of %d px)"
          % (out, folder_bytes(out) / 2 ** 20, count, crop))
    if not check_size([out]):
        sys.exit(1)


def gpu_timing(engine: str, weights: str, out: str) -> None:
    """A 1680 x 1120 image (DPDD's size): through the engine in fp32, and
    through PyTorch in half precision (the engine has no half path)."""
    from fdikp.export import export
    from fdikp.registry import load_network
    os.makedirs(out, exist_ok=True)
    model_file = os.path.join(".device", "timing-model.pt")
    net = load_network(weights)
    export(net, model_file, training="GPU timing copy of " + weights,
           memory_probe_side=256)
    image = np.random.default_rng(0).random((1120, 1680, 3),
                                            dtype=np.float32)
    source = os.path.join(".device", "timing-in.npy")
    np.save(source, image)
    report = {"image": "1680x1120", "network": net.config.name}
    for tile in (0, 512):
        result = subprocess.run(
            [engine, "--model", model_file, "--device", "cuda",
             "--tile-size", str(tile), "--repeat", "5", source,
             os.path.join(".device", "timing-out.npy")],
            capture_output=True, text=True)
        print(result.stdout, result.stderr)
        times = [float(line.split("seconds=")[1]) for line in
                 result.stdout.splitlines() if "seconds=" in line]
        report["engine_fp32_tile%d_s" % tile] = times
    net = net.cuda().eval()
    x = torch.from_numpy(image).permute(2, 0, 1)[None].cuda()
    for name, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
        times = []
        with torch.inference_mode(), torch.autocast(
                "cuda", dtype=dtype, enabled=dtype != torch.float32):
            from fdikp.network import pad_to_multiple
            padded, _, _ = pad_to_multiple(x, net.size_multiple(3))
            for _ in range(6):
                torch.cuda.synchronize()
                start = time.perf_counter()
                net(padded, 3)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
        report["pytorch_%s_s" % name] = times[1:]
    report["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    print(json.dumps(report, indent=1))
    with open(os.path.join(out, "timing.json"), "w") as f:
        json.dump(report, f, indent=1)


def read_log(run_dir: str):
    """The run's log records (fdikp.plot.read_log), none without a log."""
    path = os.path.join(run_dir, "log.jsonl")
    return plot.read_log(path) if os.path.isfile(path) else []


def throughput(run_dir: str) -> None:
    """Steps and images per second of the run's latest chunk, to size the
    next window from a measured number."""
    records = [r for r in read_log(run_dir) if "s_per_step" in r]
    if not records:
        print("%s: no training steps logged" % run_dir)
        return
    hardware = records[-1].get("hardware")
    chunk = [r for r in records if r.get("hardware") == hardware][-20:]
    s_per_step = sum(r["s_per_step"] for r in chunk) / len(chunk)
    images = sum(r["images_per_s"] for r in chunk) / len(chunk)
    print("%s: step %d on %s: %.2f steps/s, %.1f images/s (crop %s)"
          % (run_dir, records[-1]["step"], hardware, 1 / s_per_step, images,
             records[-1].get("crop")))


def collect(out_dir: str) -> None:
    """Bring a window's states into model/checkpoints/<config>/, each only
    when it is further on than the committed one."""
    for config in CONFIGS:
        state = os.path.join(out_dir, config, "last.pt")
        if not os.path.isfile(state):
            print("%s: no state in %s" % (config, out_dir))
            continue
        target = os.path.join("model", "checkpoints", config)
        new_step = torch.load(state, map_location="cpu",
                              weights_only=True)["step"]
        old = os.path.join(target, "last.pt")
        old_step = (torch.load(old, map_location="cpu",
                               weights_only=True)["step"]
                    if os.path.isfile(old) else -1)
        if new_step <= old_step:
            print("%s: window state at step %d, committed at %d: kept the "
                  "committed one" % (config, new_step, old_step))
            continue
        os.makedirs(target, exist_ok=True)
        for name in ("last.pt", "log.jsonl"):
            shutil.copy(os.path.join(out_dir, config, name),
                        os.path.join(target, name))
        print("%s: step %d -> %d collected into %s"
              % (config, old_step, new_step, target))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="model/device/device.py",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    pack = sub.add_parser("pack-data")
    pack.add_argument("--data", default=None)
    pack.add_argument("--out", default=".device/data")
    size = sub.add_parser("check-size")
    size.add_argument("--carry", nargs="*", default=[".device/data"])
    timing = sub.add_parser("gpu-timing")
    timing.add_argument("--engine", required=True)
    timing.add_argument("--weights", required=True)
    timing.add_argument("--out", required=True)
    rate = sub.add_parser("throughput")
    rate.add_argument("run_dir")
    gather = sub.add_parser("collect")
    gather.add_argument("out_dir")
    args = parser.parse_args(argv)
    if args.command == "pack-data":
        pack_data(args.data or data_dir(), args.out)
    elif args.command == "check-size":
        return 0 if check_size(args.carry) else 1
    elif args.command == "gpu-timing":
        gpu_timing(args.engine, args.weights, args.out)
    elif args.command == "throughput":
        throughput(args.run_dir)
    else:
        collect(args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
