"""What travels to and from the lent GPU machine (see model/README.md).

    python3 model/device/device.py pack-data [--data DIR] [--out .device/data]
        a compact copy of the training data (photos re-encoded at the
        generator's working size, depth maps in float16, the real
        validation crops), small enough to carry with the repo (< 64 MiB)
    python3 model/device/device.py save-state RUN_DIR OUT_DIR
        the run's weights (fp16, for fdikp.export) and a resume snapshot
        split into parts of at most 15 MiB, plus the log
    python3 model/device/device.py restore-state IN_DIR RUN_DIR
        turn a saved snapshot back into RUN_DIR/last.pt and its log

Run from the repository root. The resume snapshot keeps the weights (and
the SWA average) in fp16 and drops Adam's moments: across device sessions
training resumes from the same step, data position and RNG states, with
freshly started moments (within a session, resume is exact).
"""

import argparse
import glob
import io
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))

from fdikp.evaluate import centre_crop, list_pairs, load_image  # noqa: E402
from fdikp.synth import data_dir, save_png  # noqa: E402
from fdikp.train import TrainConfig  # noqa: E402

PART_BYTES = 15 * 1024 * 1024
PHOTO_SIDE = 768       # below SynthConfig.work_side (1024) to fit the budget
PHOTO_QUALITY = 86


def pack_data(data: str, out: str, budget_mib: float) -> None:
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
    config = TrainConfig()
    pairs = os.path.join(data, "dpdd1024-dev")
    names = list_pairs(pairs)
    spacing = max(1, len(names) // config.real_count)
    for name in names[::spacing][:config.real_count]:
        for sub in ("blur", "sharp"):
            os.makedirs(os.path.join(out, "dpdd1024-dev", sub), exist_ok=True)
            save_png(centre_crop(load_image(os.path.join(pairs, sub, name)),
                                 config.real_crop),
                     os.path.join(out, "dpdd1024-dev", sub, name))

    total = sum(os.path.getsize(os.path.join(d, f))
                for d, _, fs in os.walk(out) for f in fs)
    print("packed %s: %.1f MiB" % (out, total / 2 ** 20))
    if total > budget_mib * 2 ** 20:
        sys.exit("over the %.0f MiB budget: lower PHOTO_SIDE or "
                 "PHOTO_QUALITY" % budget_mib)


def _half(state):
    """fp16 for transport; tensors beyond fp16's range (e.g. BatchNorm
    running variances) stay fp32."""
    return {k: v.half() if v.is_floating_point() and v.numel()
            and float(v.abs().max()) < 6e4 else v
            for k, v in state.items()}


def save_state(run_dir: str, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    checkpoint = torch.load(os.path.join(run_dir, "last.pt"),
                            map_location="cpu", weights_only=True)
    final_path = os.path.join(run_dir, "final.pt")
    final = (torch.load(final_path, map_location="cpu", weights_only=True)
             if os.path.exists(final_path) else None)
    weights = final["model"] if final else checkpoint["model"]
    torch.save({"model": _half(weights),
                "training_summary": checkpoint["training_summary"]
                + (" (final SWA weights)" if final else " (latest weights)")},
               os.path.join(out_dir, "weights.pt"))
    snapshot = {k: v for k, v in checkpoint.items()
                if k not in ("optimizer", "scaler")}
    snapshot["model"] = _half(checkpoint["model"])
    if checkpoint.get("swa") is not None:
        snapshot["swa"] = _half(checkpoint["swa"])
    buffer = io.BytesIO()
    torch.save(snapshot, buffer)
    data = buffer.getvalue()
    for old in glob.glob(os.path.join(out_dir, "resume.pt.part*")):
        os.remove(old)
    for i in range(0, len(data), PART_BYTES):
        with open(os.path.join(out_dir, "resume.pt.part%02d"
                               % (i // PART_BYTES)), "wb") as f:
            f.write(data[i:i + PART_BYTES])
    shutil.copy(os.path.join(run_dir, "log.jsonl"),
                os.path.join(out_dir, "log.jsonl"))
    print("saved step %d of %s into %s" % (checkpoint["step"], run_dir,
                                           out_dir))


def restore_state(in_dir: str, run_dir: str) -> None:
    parts = sorted(glob.glob(os.path.join(in_dir, "resume.pt.part*")))
    if not parts:
        sys.exit("no resume.pt.part* in " + in_dir)
    data = b"".join(open(p, "rb").read() for p in parts)
    snapshot = torch.load(io.BytesIO(data), map_location="cpu",
                          weights_only=True)

    def full(state):
        return {k: v.float() if v.is_floating_point() else v
                for k, v in state.items()}

    snapshot["model"] = full(snapshot["model"])
    if snapshot.get("swa") is not None:
        snapshot["swa"] = full(snapshot["swa"])
    os.makedirs(run_dir, exist_ok=True)
    shutil.copy(os.path.join(in_dir, "log.jsonl"),
                os.path.join(run_dir, "log.jsonl"))
    torch.save(snapshot, os.path.join(run_dir, "last.pt"))
    print("restored step %d into %s" % (snapshot["step"], run_dir))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="model/device/device.py",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    pack = sub.add_parser("pack-data")
    pack.add_argument("--data", default=None)
    pack.add_argument("--out", default=".device/data")
    pack.add_argument("--budget-mib", type=float, default=38.0)
    save = sub.add_parser("save-state")
    save.add_argument("run_dir")
    save.add_argument("out_dir")
    restore = sub.add_parser("restore-state")
    restore.add_argument("in_dir")
    restore.add_argument("run_dir")
    args = parser.parse_args(argv)
    if args.command == "pack-data":
        pack_data(args.data or data_dir(), args.out, args.budget_mib)
    elif args.command == "save-state":
        save_state(args.run_dir, args.out_dir)
    else:
        restore_state(args.in_dir, args.run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
