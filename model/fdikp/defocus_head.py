"""A defocus map head: a small network that estimates, at every pixel of a
photo, the radius in pixels of the blur disc there (the circle of
confusion), trained on the simulator's ground truth (synth.coc_map).

FDIKP's own dilation map is not such a map (docs/model/defocus-map.md), so
the map gets its own network, separate from the deblurring weights, which
it never changes. It sees the blurry sRGB image only:

    x (N x 3 x H x W) -> stem 3x3 -> three stride-2 stages (1/2, 1/4, 1/8,
    each two 3x3 convs) -> at 1/8 a context block of dilated 3x3 convs
    (dilation 1, 2, 4, 8: about 250 px of reach at full size, for blur
    discs up to 32 px and the flat regions between edges) -> back up by
    bilinear upsampling with the encoder's maps added -> softplus, in
    pixels of radius.

Training (a run folder with last.pt and log.jsonl, resumed when it has
one, chunked by --max-minutes like fdikp.train):

    python3 -m fdikp.defocus_head --run checkpoints/defocus-head \
        --steps 3000 --batch 4 --crop 256 --max-minutes 90 --threads 1

Validation scores the fixed synthetic validation crops with
fdikp.defocus_map's measures (Spearman, MAE after a monotone fit) and
the plain MAE of the head's own pixels.
"""

import argparse
import json
import os
import sys
import time
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .defocus_map import score_maps
from .losses import finite_gradients
from .synth import VALIDATION_SEED, DefocusSynth, SynthConfig

# Batches in a row with a loss or gradient that is not finite before a run
# gives up (without saving).
MAX_SKIPPED = 20


def conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation)


class DefocusHead(nn.Module):
    def __init__(self, widths=(16, 32, 48, 64)):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.stem = conv(3, w0)
        self.down = nn.ModuleList([
            nn.Sequential(conv(a, b, stride=2), nn.LeakyReLU(0.1), conv(b, b),
                          nn.LeakyReLU(0.1))
            for a, b in ((w0, w1), (w1, w2), (w2, w3))])
        self.context = nn.ModuleList([conv(w3, w3, dilation=d) for d in (1, 2, 4, 8)])
        self.lateral = nn.ModuleList([nn.Conv2d(w, w3, 1) for w in (w0, w1, w2)])
        self.out = nn.Conv2d(w3, 1, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """x: N x 3 x H x W sRGB in [0, 1]; returns N x 1 x H x W, the blur
        radius in pixels (>= 0). Any size works (maps are resized back)."""
        skips: List[Tensor] = []
        y = F.leaky_relu(self.stem(x), 0.1)
        for stage in self.down:
            skips.append(y)
            y = stage(y)
        for block in self.context:
            y = y + F.leaky_relu(block(y), 0.1)
        # The lateral maps in encoder order, then added coarse to fine
        # (TorchScript cannot walk a ModuleList backwards: the file's map,
        # fdikp.map_export, scripts this).
        laterals: List[Tensor] = []
        for index, lateral in enumerate(self.lateral):
            laterals.append(lateral(skips[index]))
        for index in range(len(laterals) - 1, -1, -1):
            skip = laterals[index]
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = y + skip
        return F.softplus(self.out(F.leaky_relu(y, 0.1)))


def validation(head: DefocusHead, count: int, crop: int, data=None) -> Dict[str, float]:
    synth = DefocusSynth(data, SynthConfig(), split="val", seed=VALIDATION_SEED)
    maps, truth = [], []
    head.eval()
    with torch.no_grad():
        for index in range(count):
            blurry, _sharp, _r, coc = synth.batch_with_coc(index, 1, crop)
            maps.append(head(blurry)[0, 0, ::4, ::4].numpy().ravel())
            truth.append(coc[0, 0, ::4, ::4].numpy().ravel())
    head.train()
    maps_all, coc_all = np.stack(maps), np.stack(truth)
    scores = score_maps(maps_all, coc_all)
    scores["mae_px_direct"] = float(np.abs(maps_all - coc_all).mean())
    return scores


def train(args) -> int:
    os.makedirs(args.run, exist_ok=True)
    state_path = os.path.join(args.run, "last.pt")
    head = DefocusHead()
    optimizer = torch.optim.Adam(head.parameters(), lr=args.lr)
    step, seconds = 0, 0.0
    if os.path.exists(state_path):
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        head.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, seconds = int(state["step"]), float(state["train_seconds"])
    log = open(os.path.join(args.run, "log.jsonl"), "a")

    def record(entry):
        log.write(json.dumps(entry) + "\n")
        log.flush()
        print(" ".join("%s=%s" % (k, round(v, 4) if isinstance(v, float) else v)
                       for k, v in entry.items()), flush=True)

    def save():
        if not all(bool(torch.isfinite(v).all()) for v in head.state_dict().values()):
            raise SystemExit("defocus_head: the weights are not finite; the last saved "
                             "state is kept")
        torch.save({"model": head.state_dict(), "optimizer": optimizer.state_dict(),
                    "step": step, "train_seconds": seconds,
                    "parameters": sum(p.numel() for p in head.parameters())},
                   state_path + ".tmp")
        os.replace(state_path + ".tmp", state_path)

    record({"event": "start", "step": step, "args": vars(args),
            "parameters": sum(p.numel() for p in head.parameters())})
    synth = DefocusSynth(None, SynthConfig(), split="train", seed=args.seed)
    started = last_save = time.time()
    skipped = 0  # steps in a row whose loss or gradient was not finite
    while step < args.steps:
        if args.max_minutes and time.time() - started > 60 * args.max_minutes:
            break
        t = time.time()
        blurry, _sharp, _r, coc = synth.batch_with_coc(step, args.batch, args.crop)
        loss = (head(blurry) - coc).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        # A batch whose loss or gradient is not finite is not learned
        # from: one such step made every weight NaN at step 4,715 of the
        # first run, and the next save kept them (the state was restored
        # from git).
        finite = bool(torch.isfinite(loss)) and finite_gradients(head)
        step += 1
        if not finite:
            skipped += 1
            record({"step": step, "event": "skipped", "loss_px": float(loss),
                    "in_a_row": skipped})
            if skipped >= MAX_SKIPPED:
                raise SystemExit("defocus_head: %d batches in a row with a loss or gradient "
                                 "that is not finite; the last saved state is kept" % skipped)
            continue
        skipped = 0
        optimizer.step()
        seconds += time.time() - t
        if step % args.log_every == 0:
            record({"step": step, "loss_px": float(loss), "s_per_step": time.time() - t,
                    "hours": seconds / 3600})
        if step % args.val_every == 0 or step == args.steps:
            record(dict({"step": step, "event": "val"},
                        **validation(head, args.val_count, args.val_crop)))
        if time.time() - last_save > 600:
            save()
            last_save = time.time()
    save()
    record({"event": "stop", "step": step, "hours": seconds / 3600})
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m fdikp.defocus_head",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--val-count", type=int, default=32)
    parser.add_argument("--val-crop", type=int, default=256)
    parser.add_argument("--max-minutes", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
