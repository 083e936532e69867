"""Export FDIKP (or DeepRFTv2) weights to the TorchScript file the C++
engine loads.

    python3 -m fdikp.export --weights CKPT.pt --out FILE.pt
        [--stages-default 3] [--training-summary TEXT]

The file's forward(image, stages) takes N x 3 x H x W float32 in [0, 1] of
any size (1 x 1 included) and a stage count 1..max_stages (5 for FDIKP, 1
for DeepRFTv2), pads the image to the multiple the stage count needs, runs
the network, crops back and clamps to [0, 1]. The architecture follows the
checkpoint's stored `network` configuration (fdikp.registry builds it:
DeepRFTv2's carry `architecture: DeepRFTv2`; FDIKP's carry none). The
archive carries a flat JSON object, `fdikp.json`, that the engine reads
(format, version, architecture, stage limits, tiling advice, memory per
pixel, parameter count, training summary).

`--defocus-head RUN/last.pt` adds a defocus map (fdikp.map_export):
forward is unchanged.

`--random-init --seed N` exports an untrained network. It exists ONLY for
tests of the export and of the engine; its output is meaningless, and
its metadata says so.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Dict, Optional, Union

import torch

from . import __version__
from .contract import (METADATA_FORMAT, METADATA_FORMAT_VERSION,
                       METADATA_KEYS, check_metadata)
from .deblur_model import DeblurModel
from .deeprftv2 import DeepRFTv2
from .map_export import load_head, map_metadata, script_with_map
from .network import MAX_STAGES, TRAINED_STAGES
from .registry import (WEIGHTS_FROM, Network, architecture, build_network,
                       default_stages_of, load_network, with_tone_sigma)

METADATA_NAME = "fdikp.json"
# The CPU sweet spot measured on 2 cores (see README, Performance): larger
# tiles outgrow the caches and cost 2-3x more per pixel. The schema's
# default, so a model without the key gets the same.
RECOMMENDED_TILE_SIZE = int(METADATA_KEYS["recommended_tile_size"].default)
# How each named configuration is listed to users (the dialog, the PDB
# help, `--list-models`): the name scripts choose it by, its title and its
# speed class ("fast" or "quality"). Other configurations are listed by
# their configuration name.
LISTING = {
    "fdikp-s": ("FDIKP-S", "fast"),
    "fdikp": ("FDIKP", "quality"),
    "deeprftv2-s": ("DeepRFTv2-S", "fast"),
    "deeprftv2": ("DeepRFTv2", "quality"),
}
RANDOM_INIT_SUMMARY = ("TEST ONLY: randomly initialised network (seed {}), "
                       "never trained; its output is meaningless")

# Run in a fresh interpreter so that the peak resident memory it reports
# belongs to this model alone: argv = [model file, image side, stages].
_MEMORY_PROBE = """
import resource, sys, torch
model = torch.jit.load(sys.argv[1])
side = int(sys.argv[2])
stages = int(sys.argv[3])
with torch.inference_mode():
    model(torch.rand(1, 3, 16, 16), stages)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model(torch.rand(1, 3, side, side), stages)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024 / (side * side))
"""


def script_for_inference(net: Network) -> torch.jit.ScriptModule:
    """torch.jit.script + freeze: the weights become constants of the
    graph, so the file is self-contained and BatchNorm is folded."""
    net.eval()
    scripted = torch.jit.script(DeblurModel(net).eval())
    return torch.jit.freeze(scripted)


def measure_memory_bytes_per_pixel(model_file: str, side: int,
                                   stages: int = TRAINED_STAGES) -> int:
    """Peak resident memory added by one run (3 stages unless told) on a
    side x side image, per input pixel (CPU, float32)."""
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, model_file, str(side),
         str(stages)],
        check=True, capture_output=True, text=True)
    return int(round(float(result.stdout.strip().splitlines()[-1])))


def listing(net: Network, name: Optional[str] = None,
            title: Optional[str] = None,
            speed_class: Optional[str] = None) -> Dict[str, str]:
    """The metadata users choose the model by; None takes the
    configuration's own (LISTING)."""
    own_title, own_speed = LISTING.get(net.config.name,
                                       (net.config.name, ""))
    return {"name": name or net.config.name,
            "title": title or own_title,
            "speed_class": own_speed if speed_class is None else speed_class}


def metadata(net: Network, default_stages: int, memory_bytes_per_pixel: int,
             training: str, names: Optional[Dict[str, str]] = None,
             extra: Optional[Dict[str, Union[str, int]]] = None
             ) -> Dict[str, Union[str, int, float]]:
    info = {
        "format": METADATA_FORMAT,
        "format_version": METADATA_FORMAT_VERSION,
        **(names or listing(net)),
        "architecture": architecture(net),
        "configuration": net.config.name,
        "network": json.dumps(net.config.to_dict(), sort_keys=True),
        "version": __version__,
        "default_stages": default_stages,
        "max_stages": net.max_stages,
        "base_multiple": net.size_multiple(1),
        "recommended_tile_size": RECOMMENDED_TILE_SIZE,
        "memory_bytes_per_pixel": memory_bytes_per_pixel,
        "parameters": sum(p.numel() for p in net.parameters()),
        "training": training,
        **(extra or {}),
    }
    check_metadata(info)  # what the engine would refuse is not written
    return info


def export(net: Network, out: str, default_stages: Optional[int] = None,
           training: str = "", memory_probe_side: int = 512,
           names: Optional[Dict[str, str]] = None, defocus_head: Optional[str] = None,
           tile_overlap: Optional[int] = None) -> Dict[str, Union[str, int, float]]:
    """Write `out`; returns the metadata stored in it. default_stages:
    None is the network's own (3 for FDIKP, 1 for DeepRFTv2); names: the
    name, title and speed class (listing(net) when None); defocus_head: a
    fdikp.defocus_head state to add as the file's defocus map;
    tile_overlap: the overlap the engine takes for the file when asked for
    the model's own (recommended_tile_overlap; None leaves the key out, and
    the engine takes the contract's default)."""
    if default_stages is None:
        default_stages = default_stages_of(net)
    if not 1 <= default_stages <= net.max_stages:
        raise ValueError(f"default stages must be 1..{net.max_stages}")
    extra = None
    if defocus_head is None:
        model = script_for_inference(net)
    else:
        head, head_training = load_head(defocus_head)
        model = script_with_map(net, head)
        extra = map_metadata(head_training)
    if tile_overlap is not None:
        extra = {**(extra or {}), "recommended_tile_overlap": int(tile_overlap)}
    out_dir = os.path.dirname(os.path.abspath(out))
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        probe_file = os.path.join(tmp, "probe.pt")
        torch.jit.save(model, probe_file)
        memory = measure_memory_bytes_per_pixel(
            probe_file, memory_probe_side,
            min(TRAINED_STAGES, net.max_stages))
    info = metadata(net, default_stages, memory, training, names, extra)
    torch.jit.save(model, out,
                   _extra_files={METADATA_NAME: json.dumps(info, indent=1)})
    return info


def read_metadata(model_file: str) -> Dict[str, Union[str, int, float]]:
    files = {METADATA_NAME: ""}
    torch.jit.load(model_file, _extra_files=files)
    return json.loads(files[METADATA_NAME])


def training_summary_from(weights: str) -> Optional[str]:
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    summary = checkpoint.get("training_summary")
    return summary if isinstance(summary, str) else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.export",
        description="Export FDIKP or DeepRFTv2 weights to a TorchScript "
                    "model file.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", metavar="CKPT.pt",
                        help="checkpoint: {'model': state_dict, ...} or a "
                             "bare state_dict")
    source.add_argument("--random-init", action="store_true",
                        help="FOR TESTS ONLY: export an untrained, randomly "
                             "initialised network (never ship it)")
    parser.add_argument("--weights-from", choices=WEIGHTS_FROM,
                        default="ema",
                        help="of a training state (fdikp.train's last.pt): "
                             "its EMA of the weights (default) or the "
                             "current weights")
    parser.add_argument("--config", default="fdikp",
                        help="network configuration of --random-init "
                             "(fdikp, fdikp-s, deeprftv2, deeprftv2-s; "
                             "trained weights carry their own)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of --random-init (default 0)")
    parser.add_argument("--out", required=True, metavar="FILE.pt")
    parser.add_argument("--stages-default", type=int, default=None,
                        choices=range(1, MAX_STAGES + 1), metavar="S",
                        help=f"stage count the engine uses by default "
                             f"(1..the network's maximum: {MAX_STAGES} for "
                             f"FDIKP, default {TRAINED_STAGES}; 1 for "
                             f"DeepRFTv2)")
    parser.add_argument("--training-summary", metavar="TEXT",
                        help="how the weights were trained (stored in the "
                             "file; default: the checkpoint's "
                             "'training_summary' entry)")
    parser.add_argument("--name", metavar="NAME",
                        help="the name scripts choose the model by "
                             "(default: the configuration's, e.g. fdikp-s)")
    parser.add_argument("--title", metavar="TEXT",
                        help="the title menus show (default: the "
                             "configuration's, e.g. FDIKP-S)")
    parser.add_argument("--speed-class", choices=("fast", "quality"),
                        help="shown after the title: fast or best quality "
                             "(default: the configuration's)")
    parser.add_argument("--tone-sigma", type=float, default=None,
                        metavar="PX",
                        help="FDIKP: keep the input's content coarser than a "
                             "Gaussian of this sigma in pixels (its tone; "
                             "network.keep_tone); 0 turns it off (default: "
                             "the weights' configuration)")
    parser.add_argument("--defocus-head", metavar="RUN/last.pt",
                        help="add this fdikp.defocus_head state as the file's "
                             "defocus map (a method defocus_map beside "
                             "forward, which stays as it is)")
    parser.add_argument("--tile-overlap", type=int, default=None, metavar="PX",
                        help="the tile overlap the engine takes for this file when "
                             "asked for the model's own (metadata "
                             "recommended_tile_overlap: the smallest whose seams "
                             "were measured not to show, tests/bench/profile.py "
                             "--seams; default: leave it out, the engine's 64)")
    parser.add_argument("--memory-probe-size", type=int, default=512,
                        metavar="PX",
                        help="side of the image used to measure memory per "
                             "pixel (default 512)")
    args = parser.parse_args(argv)

    if args.random_init:
        if args.training_summary:
            parser.error("--training-summary describes trained weights; "
                         "--random-init has none")
        torch.manual_seed(args.seed)
        net = build_network(args.config).eval()
        # The identity start would make an untrained network return its
        # input exactly, which tests of the plumbing could not tell from
        # a skipped network: the output convolution is random too.
        if isinstance(net, DeepRFTv2):
            net.break_identity_start()
        else:
            net.out_conv.reset_parameters()
        training = RANDOM_INIT_SUMMARY.format(args.seed)
        print("WARNING: exporting a RANDOMLY INITIALISED network for tests; "
              "it is not a deblurring model", file=sys.stderr)
    else:
        net = load_network(args.weights, args.weights_from)
        training = (args.training_summary
                    or training_summary_from(args.weights)
                    or "not recorded")
    if args.tone_sigma is not None:
        try:
            net = with_tone_sigma(net, args.tone_sigma)
        except ValueError as error:
            parser.error(str(error))
    if (args.stages_default is not None
            and args.stages_default > net.max_stages):
        parser.error(f"--stages-default: this network has at most "
                     f"{net.max_stages} stage(s)")
    names = listing(net, args.name, args.title, args.speed_class)
    if args.random_init and not args.title:
        names["title"] = "Untrained " + names["title"] + " (tests only)"
    info = export(net, args.out, args.stages_default, training,
                  args.memory_probe_size, names, args.defocus_head, args.tile_overlap)
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
