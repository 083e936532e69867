"""Score a deblurring model on a folder of pairs, or show it on photos
without a reference.

    python3 -m fdikp.evaluate --model FILE.pt --pairs DIR [--stages 3]
                              [--json out.json] [--crop N] [--limit N]
                              [--fold K [--folds FILE]]
    python3 -m fdikp.evaluate --model identity --pairs DIR
    python3 -m fdikp.evaluate --model FILE.pt --noref DIR --sheets OUTDIR

DIR holds blur/ and sharp/ with images matched by name. FILE.pt is a
TorchScript model from fdikp.export (forward(image, stages)); "identity"
returns its input, which scores the blurry input alone. The blurry
input's scores are always reported beside the model's (PSNR, SSIM, MAE by
fdikp.metrics). --fold K scores only the pairs of fold K of the committed
split (fdikp.folds): those a model trained with fold K held out never
saw. --noref writes, for each photo in DIR, a before | after
PNG into OUTDIR.
"""

import argparse
import json
import math
import os
import sys
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from torch import Tensor

from . import metrics
from .export import read_metadata
from .image_io import IMAGE_EXTENSIONS, centre_crop, grid, list_pairs, load_image
from .network import TRAINED_STAGES
from .real_pairs import held_out_names

Model = Callable[[Tensor], Tensor]


def engine_model(engine: str, model_file: str, stages: int,
                 device: str) -> Model:
    """The model run by the C++ engine's tool as the filter runs it (its
    automatic tiles), through .npy files in a temporary folder."""
    import subprocess
    import tempfile

    def run(image: Tensor) -> Tensor:
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "in.npy")
            result = os.path.join(folder, "out.npy")
            np.save(source, image[0].permute(1, 2, 0).contiguous().numpy())
            subprocess.run([engine, "--model", model_file, "--stages",
                            str(stages), "--device", device, source, result],
                           check=True, capture_output=True)
            return torch.from_numpy(np.load(result)).permute(2, 0, 1)[None]
    return run


def file_default_stages(spec: str) -> int:
    """The stage count a model file runs by default: its metadata's
    default_stages (TRAINED_STAGES for a file without metadata, or for
    "identity", which has no stages)."""
    if spec == "identity":
        return TRAINED_STAGES
    try:
        return int(read_metadata(spec)["default_stages"])
    except (KeyError, ValueError, RuntimeError):
        return TRAINED_STAGES


def load_model(spec: str, stages: Optional[int], device: str,
               engine: Optional[str] = None) -> Model:
    """The model `spec` at `stages` (None: the file's own default)."""
    if spec == "identity":
        return lambda image: image
    if stages is None:
        stages = file_default_stages(spec)
    if engine:
        torch.jit.load(spec)  # a broken file fails here, with its reason
        return engine_model(engine, spec, stages, device)
    model = torch.jit.load(spec, map_location=device)
    model.eval()

    def run(image: Tensor) -> Tensor:
        with torch.inference_mode():
            return model(image.to(device), stages).float().cpu()
    return run


def load_model_or_report(args: argparse.Namespace) -> Optional[Model]:
    """load_model from a command's --model --stages --device --engine;
    None, with the reason on stderr, when the file cannot be used."""
    try:
        return load_model(args.model, args.stages, args.device, args.engine)
    except (RuntimeError, ValueError, OSError) as error:
        print("cannot load model %s: %s" % (args.model, error),
              file=sys.stderr)
        return None


def score(estimate: Tensor, reference: Tensor) -> Dict[str, float]:
    pair = (estimate[None], reference[None])
    return {"psnr": float(metrics.psnr(*pair)[0]),
            "ssim": float(metrics.ssim(*pair)[0]),
            "mae": float(metrics.mae(*pair)[0])}


def mean_scores(rows: List[Dict[str, float]]) -> Dict[str, float]:
    return {key: sum(r[key] for r in rows) / len(rows) for key in rows[0]}


def evaluate_pairs(model: Model, pairs_dir: str, crop: Optional[int] = None,
                   limit: Optional[int] = None, log=None,
                   names: Optional[List[str]] = None) -> Dict:
    """Per-image and mean scores of the model and of the blurry input, on
    `names` (default: every pair of pairs_dir)."""
    images = []
    for name in (list_pairs(pairs_dir) if names is None else names)[:limit]:
        blurry = centre_crop(load_image(os.path.join(pairs_dir, "blur", name)),
                             crop)
        sharp = centre_crop(load_image(os.path.join(pairs_dir, "sharp", name)),
                            crop)
        start = time.perf_counter()
        restored = model(blurry[None])[0]
        seconds = time.perf_counter() - start
        input_scores = score(blurry, sharp)
        row = {"name": name, "seconds": seconds, "input": input_scores,
               "model": (input_scores if torch.equal(restored, blurry)
                         else score(restored, sharp))}
        images.append(row)
        if log:
            log("%-24s input %6.2f dB %.4f  model %6.2f dB %.4f  %.1f s" % (
                name, row["input"]["psnr"], row["input"]["ssim"],
                row["model"]["psnr"], row["model"]["ssim"], seconds))
    return {"pairs": pairs_dir, "count": len(images), "crop": crop,
            "mean": {"input": mean_scores([r["input"] for r in images]),
                     "model": mean_scores([r["model"] for r in images]),
                     "seconds": sum(r["seconds"] for r in images)
                     / len(images)},
            "images": images}


def before_after_sheets(model: Model, photo_dir: str, out_dir: str,
                        limit: Optional[int] = None, log=None) -> List[str]:
    """One before | after PNG per photo of photo_dir."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    names = sorted(n for n in os.listdir(photo_dir)
                   if n.lower().endswith(IMAGE_EXTENSIONS))[:limit]
    for name in names:
        before = load_image(os.path.join(photo_dir, name))
        after = model(before[None])[0]
        path = os.path.join(out_dir, os.path.splitext(name)[0] + ".png")
        grid([[before, after]], ["before: " + name, "after"]).save(path)
        written.append(path)
        if log:
            log("wrote " + path)
    return written


def _format(value: float) -> str:
    return "inf" if math.isinf(value) else "%.4f" % value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.evaluate",
        description="Score a model on pairs (blur/, sharp/) or write "
                    "before/after sheets for photos without a reference.")
    parser.add_argument("--model", required=True,
                        help="TorchScript file from fdikp.export, or "
                             "'identity' to score the blurry input alone")
    parser.add_argument("--stages", type=int, default=None,
                        help="stage count (default: the model file's own)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--engine", metavar="EXE",
                        help="run the model through the C++ engine's tool "
                             "(fdikp-engine-run), tiled as the filter runs "
                             "it, instead of PyTorch")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's choice)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--pairs", metavar="DIR",
                        help="folder with blur/ and sharp/ subfolders")
    target.add_argument("--noref", metavar="DIR",
                        help="folder of photos without ground truth")
    parser.add_argument("--sheets", metavar="OUTDIR",
                        help="where --noref writes its before/after PNGs")
    parser.add_argument("--json", metavar="FILE", help="write scores here")
    parser.add_argument("--crop", type=int, default=None,
                        help="score a centred N x N crop of every image")
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N images")
    parser.add_argument("--fold", type=int, default=None,
                        help="only the pairs of this fold of the split")
    parser.add_argument("--folds", metavar="FILE", default=None,
                        help="the fold split (default: fdikp/folds.json)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model = load_model_or_report(args)
    if model is None:
        return 1

    def log(line):
        print(line, flush=True)

    if args.noref:
        if not args.sheets:
            parser.error("--noref needs --sheets OUTDIR")
        before_after_sheets(model, args.noref, args.sheets, args.limit, log)
        return 0
    names = None
    if args.fold is not None:
        try:
            names = held_out_names(args.pairs, args.fold, args.folds)
        except (ValueError, OSError) as error:
            print("cannot use fold %d: %s" % (args.fold, error),
                  file=sys.stderr)
            return 1
        if not names:
            print("fold %d has no pairs in %s" % (args.fold, args.pairs),
                  file=sys.stderr)
            return 1
    result = evaluate_pairs(model, args.pairs, args.crop, args.limit, log,
                            names)
    result.update(model=args.model,
                  stages=(args.stages if args.stages is not None
                          else file_default_stages(args.model)),
                  runner="engine" if args.engine else "pytorch")
    if args.fold is not None:
        result["fold"] = args.fold
    for who in ("input", "model"):
        m = result["mean"][who]
        print("mean %-5s over %d: PSNR %s dB  SSIM %s  MAE %s" % (
            who, result["count"], _format(m["psnr"]), _format(m["ssim"]),
            _format(m["mae"])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
