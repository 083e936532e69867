"""Train FDIKP on synthetic defocus (fdikp.synth), by the paper's recipe.

    python3 -m fdikp.train --run DIR [--steps N] [--device cuda] ...

Loss (per scale): MSE + 0.2 * mean|FFT(y_hat) - FFT(y)| (+ 0.2 * LPIPS
only with --lpips-weights FILE; without it LPIPS is off and the log says
so). Scales weighted 1 / 0.2 / 0.1, finest first. Adam(1e-4, 0.9/0.999);
phase 1 (crop 384, batch 4) halves the rate at its milestones; phase 2
(crop 512, batch 2, rate 2.5e-5) averages the weights (SWA), and the
final weights are the average after torch.optim.swa_utils.update_bn.
Every batch gets one of the 8 flips/rotations per sample.

DIR/last.pt is written every --ckpt-minutes and on exit; running the same
command again resumes from it EXACTLY (the same losses and weights as an
uninterrupted run): batch k is a pure function of (seed, k), and the
RNG states of python, numpy and torch are saved with the step; the
run's options come from the checkpoint, except the machine's (--device,
--data, --max-minutes, --ckpt-minutes, --ckpt-every). DIR/log.jsonl
gets loss, learning rate and throughput every --log-every steps and the
validation scores (fixed synthetic set, real dpdd1024-dev crops) every
--val-every steps; fdikp.plot draws it. DIR/final.pt holds the final
weights ({'model': state_dict}) for fdikp.export.
"""

import argparse
import copy
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, update_bn

from . import metrics
from .export import float_state
from .image_io import centre_crop, list_pairs, load_image
from .folds import FOLDS_FILE, Folds
from .grow import describe, growable, grown_state
from .network import TRAINED_STAGES, down2
from .real_pairs import RealPairs, held_out_names, real_count, training_names
from .synth import (BANK_FILE, DefocusSynth, SynthConfig, data_dir, dihedral_transform,
                    validation_set)

SCALE_WEIGHTS = (1.0, 0.2, 0.1)  # finest scale first
FREQUENCY_WEIGHT = 0.2
LPIPS_WEIGHT = 0.2
# gain_loss: per-image losses below this count as this (about 50 dB).
GAIN_LOSS_FLOOR = 1e-5
LOSSES = ("mse", "psnr")
BN_UPDATE_SEED = 1 << 30  # batch indices for update_bn, apart from training
# Options that describe the machine, not the run: a resumed run takes them
# from the command that resumes it.
MACHINE_OPTIONS = ("device", "data", "max_minutes", "ckpt_minutes",
                   "ckpt_every")
# Options a chunk may change when it resumes a run, if its command gives
# them explicitly (a GPU chunk takes bigger batches than a CPU chunk of
# the same run); every chunk's log records what it used.
CHUNK_OPTIONS = ("batch", "crop", "reuse", "amp", "prefetch", "threads",
                 "compact_state", "val_every", "log_every", "lr", "tone_sigma")


@dataclass
class TrainConfig:
    """Every training option; the CLI flags are these names in kebab-case."""

    network: str = "fdikp"       # named network configuration (CONFIGS)
    init: str = "identity"       # identity (the start returns its input)
    #                              or default (PyTorch's, no residual)
    steps: int = 140000          # total optimiser steps, both phases
    phase2_steps: int = 20000    # last steps: bigger crops, low lr, SWA
    batch: int = 4
    crop: int = 384
    batch2: int = 2
    crop2: int = 512
    lr: float = 1e-4
    lr2: float = 2.5e-5
    warmup: int = 0              # steps of linear learning-rate warm-up
    milestones: str = "0.6,0.85"  # fractions of phase 1 where lr halves
    swa_every: int = 10          # steps between SWA weight averages
    bn_batches: int = 32         # batches for update_bn at the end
    stages: int = TRAINED_STAGES
    amp: str = "auto"            # auto | bf16 | fp16 | none
    device: str = "auto"         # auto | cpu | cuda
    seed: int = 0
    data: str = ""               # default: $FDIKP_DATA
    max_radius: float = 16.0     # synthetic CoC radius limit, px
    val_every: int = 1000
    val_count: int = 64          # fixed synthetic validation crops
    val_crop: int = 256
    real_count: int = 12         # dpdd1024-dev pairs (evenly spaced)
    real_crop: int = 384         # centre crop of each real pair
    log_every: int = 10
    ckpt_minutes: float = 5.0
    ckpt_every: int = 0          # also every N steps (0: by time only)
    max_minutes: float = 0.0     # save and stop after this long (0: never)
    lpips_weights: str = ""      # local LPIPS (AlexNet) weights file
    ema_decay: float = 0.0       # EMA of the weights (0: off); validated
    prefetch: int = 0            # batches a data process makes ahead
    reuse: int = 1               # steps each generated pair serves (~)
    threads: int = 0             # torch threads (0: torch's choice)
    compact_state: str = "no"    # last.pt: no (fp32) | yes (fp16 weights,
    #                              bf16 Adam moments) | weights (no moments)
    loss: str = "mse"            # mse: multiscale_loss, pooled over the
    #                              batch | psnr: gain_loss, per image, dB
    init_from: str = ""          # a run's last.pt whose current weights
    #                              start this run (used when it starts)
    tone_sigma: float = 0.0      # FDIKP: keep the input's tone through
    #                              this Gaussian (network.keep_tone; 0:
    #                              off); no weights, so a resume may set it
    init_weights: str = "current"  # which of --init-from's weights start
    #                              this run: current | ema
    real_pairs: str = ""         # real pairs (blur/, sharp/) trained on
    #                              beside the synthetic ones; only through
    #                              the fold split (fdikp.folds)
    real_share: float = 0.0      # share of each batch cut from real_pairs
    fold: int = -1               # the fold held out (validated on, never
    #                              trained on); -1: train on every fold
    folds: str = ""              # the fold file (default: model/folds.json)
    bank_share: float = 0.0      # share of synthetic samples blurred with
    #                              a kernel measured on the real pairs
    #                              (fdikp.kernels), of the training folds'
    kernel_bank: str = ""        # the kernel bank (default: synth.BANK_FILE)
    noise_scale: float = 1.0     # synthetic noise's deviation times this

    def phase1_steps(self) -> int:
        return self.steps - self.phase2_steps

    def lr_at(self, step: int) -> float:
        """Linear warm-up over the first `warmup` steps, MultiStepLR
        (halve at each milestone) in phase 1, then lr2."""
        if step >= self.phase1_steps():
            return self.lr2
        passed = sum(step >= float(m) * self.phase1_steps()
                     for m in self.milestones.split(",") if m.strip())
        warm = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        return self.lr * 0.5 ** passed * warm

    def batch_shape(self, step: int):
        if step >= self.phase1_steps():
            return self.batch2, self.crop2
        return self.batch, self.crop


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def autocast_dtype(amp: str, device: torch.device) -> Optional[torch.dtype]:
    if amp == "auto":
        if device.type != "cuda":
            return None
        return (torch.bfloat16 if torch.cuda.is_bf16_supported()
                else torch.float16)
    return {"bf16": torch.bfloat16, "fp16": torch.float16,
            "none": None}[amp]


def frequency_l1(estimate: Tensor, target: Tensor) -> Tensor:
    """mean |FFT(y_hat) - FFT(y)|, complex modulus, in float32. Orthonormal
    FFT (our choice): the term does not grow with the crop size, so the
    weights 0.2 and 1 / 0.2 / 0.1 mean the same at every scale and crop."""
    return per_image_frequency_l1(estimate, target).mean()


def per_image_frequency_l1(estimate: Tensor, target: Tensor) -> Tensor:
    """frequency_l1 of each image of the batch (N values)."""
    difference = torch.fft.fft2(estimate.float() - target.float(),
                                norm="ortho")
    return difference.abs().mean(dim=(1, 2, 3))


def per_image_loss(estimate: Tensor, target: Tensor,
                   lpips: Optional[nn.Module] = None) -> Tensor:
    """MSE + 0.2 FFT-L1 (+ 0.2 LPIPS) of each image of the batch."""
    estimate, target = estimate.float(), target.float()
    loss = ((estimate - target) ** 2).mean(dim=(1, 2, 3)) \
        + FREQUENCY_WEIGHT * per_image_frequency_l1(estimate, target)
    if lpips is not None:
        loss = loss + LPIPS_WEIGHT * lpips(estimate, target).reshape(-1)
    return loss


def scale_loss(estimate: Tensor, target: Tensor,
               lpips: Optional[nn.Module] = None) -> Tensor:
    """per_image_loss averaged over the batch (the batch's pooled loss:
    every image has the same size)."""
    return per_image_loss(estimate, target, lpips).mean()


class Pyramid:
    """An image and its halvings (down2), each computed once: the target or
    the input at every output's scale."""

    def __init__(self, image: Tensor):
        self.levels = [image]

    def like(self, other: Tensor) -> Tensor:
        """The level with `other`'s size."""
        while self.levels[-1].shape[2] > other.shape[2]:
            self.levels.append(down2(self.levels[-1]))
        for level in self.levels:
            if level.shape[2:] == other.shape[2:]:
                return level
        raise ValueError("an output of %s is no power-of-2 scale of the "
                         "image's %s" % (tuple(other.shape[2:]),
                                         tuple(self.levels[0].shape[2:])))


def _scales(outputs: Sequence[Tensor], sharp: Tensor):
    """(w, y, target) of every output: target = sharp at y's scale k
    (y's side is sharp's / 2^k), w = SCALE_WEIGHTS[k]. FDIKP gives one
    output per scale; DeepRFTv2's all_outputs several at each of two (each
    halving of sharp is computed once)."""
    targets = Pyramid(sharp)
    for estimate in outputs:
        target = targets.like(estimate)
        k = (sharp.shape[2] // target.shape[2]).bit_length() - 1
        yield SCALE_WEIGHTS[min(k, len(SCALE_WEIGHTS) - 1)], estimate, target


def multiscale_loss(outputs: Sequence[Tensor], sharp: Tensor,
                    lpips: Optional[nn.Module] = None) -> Tensor:
    """sum over outputs of w_k L(y, down^k(sharp)), k each output's scale
    (weights 1 / 0.2 / 0.1, finest first)."""
    total = sharp.new_zeros((), dtype=torch.float32)
    for weight, estimate, target in _scales(outputs, sharp):
        total = total + weight * scale_loss(estimate, target, lpips)
    return total


def gain_loss(outputs: Sequence[Tensor], blurry: Tensor, sharp: Tensor,
              lpips: Optional[nn.Module] = None) -> Tensor:
    """The "psnr" loss: minus the model's gain over its blurry input in
    dB, per image, averaged over the batch and (weighted as
    multiscale_loss) over the outputs:
        sum_y w_k mean_i 10 log10((L_i(y) + f) / (L_i(x_k) + f)) / sum_y w_k
    with L the per-image loss, x_k the blurry input at y's scale and
    f = GAIN_LOSS_FLOOR. Zero for the identity, negative where the model
    helps. Unlike the pooled loss, whose batch mean is ruled by the most
    blurred images, an image that is already nearly sharp weighs as much
    as any other: a change that costs it 5 dB costs the loss as much as it
    does the mean PSNR (the pooled MSE run sharpened heavy blur by
    +0.1-0.3 dB while costing sharp crops 1-14 dB, see model/README.md)."""
    total = sharp.new_zeros((), dtype=torch.float32)
    weights = 0.0
    inputs = Pyramid(blurry)
    for weight, estimate, target in _scales(outputs, sharp):
        with torch.no_grad():
            reference = per_image_loss(inputs.like(estimate), target,
                                       lpips)
        mine = per_image_loss(estimate, target, lpips)
        total = total + weight * (10.0 * torch.log10(
            (mine + GAIN_LOSS_FLOOR) / (reference + GAIN_LOSS_FLOOR))).mean()
        weights += weight
    return total / weights


class LPIPS(nn.Module):
    """LPIPS (Zhang et al. 2018) with the AlexNet trunk, from ONE local file
    holding {'features.<i>.weight|bias': AlexNet conv weights,
    'lin<k>.weight': 1 x C x 1 x 1}. Inputs in [0, 1]."""

    CHANNELS = (64, 192, 384, 256, 256)

    def __init__(self, weights_file: str):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU())
        self.taps = (1, 4, 7, 9, 11)
        for k, channels in enumerate(self.CHANNELS):
            self.register_buffer("lin%d" % k, torch.zeros(1, channels, 1, 1))
        self.register_buffer("shift", torch.tensor(
            [-0.030, -0.088, -0.188])[None, :, None, None])
        self.register_buffer("scale", torch.tensor(
            [0.458, 0.448, 0.450])[None, :, None, None])
        state = torch.load(weights_file, map_location="cpu", weights_only=True)
        self.load_state_dict(state, strict=False)
        missing = [k for k in self.state_dict() if k not in state
                   and k not in ("shift", "scale")]
        if missing:
            raise ValueError("LPIPS weights file lacks " + ", ".join(missing))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        x = ((2 * x - 1) - self.shift) / self.scale
        y = ((2 * y - 1) - self.shift) / self.scale
        total = x.new_zeros(x.shape[0])
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i in self.taps:
                k = self.taps.index(i)
                nx = x / (x.norm(dim=1, keepdim=True) + 1e-10)
                ny = y / (y.norm(dim=1, keepdim=True) + 1e-10)
                weighted = (getattr(self, "lin%d" % k) * (nx - ny) ** 2)
                total = total + weighted.sum(1).mean(dim=(1, 2))
        return total


def dihedral(images: Sequence[Tensor], generator: torch.Generator):
    """The same random one of the 8 flips/rotations on every tensor, chosen
    per sample."""
    choice = torch.randint(8, (images[0].shape[0],), generator=generator)
    return [torch.stack([dihedral_transform(x[i], c)
                         for i, c in enumerate(choice.tolist())])
            for x in images]


class _Staged(nn.Module):
    """net(x, stages) as a one-argument module, for update_bn."""

    def __init__(self, net: nn.Module, stages: int):
        super().__init__()
        self.net, self.stages = net, stages

    def forward(self, x):
        return self.net(x, self.stages)


def rng_state() -> Dict:
    name, keys, position, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": [name, torch.from_numpy(keys.astype(np.int64)),
                       position, has_gauss, gauss],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict) -> None:
    random.setstate(state["python"])
    name, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position,
                         has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_sizes(config: TrainConfig) -> None:
    """Crops must be multiples of what `stages` stages need (and options
    with a fixed set of values must have one of them)."""
    if config.init not in ("identity", "default"):
        raise ValueError("--init must be identity or default, got "
                         + config.init)
    if config.compact_state not in ("no", "yes", "weights"):
        raise ValueError("--compact-state must be no, yes or weights, got "
                         + config.compact_state)
    if config.loss not in LOSSES:
        raise ValueError("--loss must be one of %s, got %s"
                         % (", ".join(LOSSES), config.loss))
    from .export import is_deeprftv2
    if is_deeprftv2(config.network):
        from .deeprftv2 import MAX_STAGES as most, size_multiple
    else:
        from .network import MAX_STAGES as most, size_multiple
    if not 1 <= config.stages <= most:
        raise ValueError("--stages must be 1..%d for %s, got %d"
                         % (most, config.network, config.stages))
    multiple = size_multiple(config.stages)
    for name in ("crop", "crop2", "val_crop", "real_crop"):
        if getattr(config, name) % multiple:
            raise ValueError("--%s %d is not a multiple of %d (needed for "
                             "%d stages)" % (name.replace("_", "-"),
                                             getattr(config, name), multiple,
                                             config.stages))


def _default_network(config: "TrainConfig") -> nn.Module:
    """FDIKP or DeepRFTv2 by the configuration's name (export.build_network
    builds either from what a checkpoint stores)."""
    from .export import build_network, config_from_checkpoint, with_tone_sigma
    net_config = config_from_checkpoint({"network": config.network})
    if config.init == "default":
        net_config = replace(net_config, identity_start=False)
    net = build_network(net_config)
    return with_tone_sigma(net, config.tone_sigma) if config.tone_sigma else net


def supervised_outputs(net: nn.Module, x: Tensor, stages: int
                       ) -> List[Tensor]:
    """What the loss supervises: DeepRFTv2's every image (each column's
    plain and FKE output at both scales, as its authors train it), FDIKP's
    every stage output."""
    if hasattr(net, "all_outputs"):
        return net.all_outputs(x)
    return net(x, stages)


def _network_dict(net: nn.Module) -> Optional[Dict]:
    config = getattr(net, "config", None)
    return config.to_dict() if hasattr(config, "to_dict") else None


def _weights_layout(network: Optional[Dict]) -> Optional[Dict]:
    """What of a stored network configuration the weights depend on: all
    but tone_sigma (network.keep_tone has no weights; states saved before
    it existed lack it)."""
    if not isinstance(network, dict):
        return network
    return {k: v for k, v in network.items() if k != "tone_sigma"}


class BatchSource:
    """Training batches, made inline or ahead by a separate data process
    (config.prefetch > 0) so that the step does not wait for the
    generator; both give the same tensors.

    Generated batch j is synth.batch(j, *config.batch_shape(j * R)), a
    pure function of the seed and j, with R = config.reuse. With R = 1 step
    k trains on batch k. With R > 1 a new batch is generated every R steps
    and step k draws its samples (without replacement, seeded by k) from
    the pool of the R latest batches, so each pair is seen about R times,
    in different company and orientation: the generator costs 1/R per
    step."""

    def __init__(self, synth_args: Dict, config: "TrainConfig", first: int,
                 real_args: Optional[Dict] = None):
        self.config = config
        self.reuse = max(1, config.reuse)
        self.pool: Dict[int, Tuple[Tensor, Tensor]] = {}
        self.synth: Optional[DefocusSynth] = None
        self.real: Optional[RealPairs] = None
        self.generated, self.wait_seconds = 0, 0.0
        start = self._pool_range(first)[0]
        if config.prefetch <= 0:
            self.synth = DefocusSynth(**synth_args)
            self.real = RealPairs(**real_args) if real_args else None
            return
        import torch.multiprocessing as mp
        context = mp.get_context("spawn")  # fork would copy OpenMP state
        self.queue = context.Queue(maxsize=config.prefetch)
        self.process = context.Process(
            target=_data_process,
            args=(synth_args, config, self.queue, start, real_args),
            daemon=True)
        self.process.start()

    def _pool_range(self, step: int) -> Tuple[int, int]:
        newest = step // self.reuse
        return max(0, newest - self.reuse + 1), newest

    def _shape(self, index: int) -> Tuple[int, int]:
        return self.config.batch_shape(index * self.reuse)

    def _generate(self, index: int) -> Tuple[Tensor, Tensor]:
        start = time.monotonic()
        if self.synth is not None:
            out = mixed_batch(self.synth, self.real, index,
                              *self._shape(index), self.config.real_share)
        else:
            got, blurry, sharp = self.queue.get()
            if isinstance(got, str):
                raise RuntimeError("data process failed: " + got)
            if got != index:
                raise RuntimeError("data process sent batch %d, expected %d"
                                   % (got, index))
            out = (torch.from_numpy(blurry), torch.from_numpy(sharp))
        self.wait_seconds += time.monotonic() - start
        self.generated += out[0].shape[0]
        return out

    def get(self, step: int) -> Tuple[Tensor, Tensor]:
        oldest, newest = self._pool_range(step)
        for index in list(self.pool):
            if index < oldest:
                del self.pool[index]
        for index in range(oldest, newest + 1):
            if index not in self.pool:
                self.pool[index] = self._generate(index)
        if self.reuse == 1:
            return self.pool[newest]
        blurry = torch.cat([self.pool[j][0] for j in sorted(self.pool)])
        sharp = torch.cat([self.pool[j][1] for j in sorted(self.pool)])
        size = self.config.batch_shape(step)[0]
        generator = torch.Generator().manual_seed(
            self.config.seed * 15_485_863 + step)
        pick = torch.randperm(blurry.shape[0], generator=generator)[:size]
        return blurry[pick], sharp[pick]

    def close(self) -> None:
        if self.synth is None and self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def mixed_batch(synth: DefocusSynth, real: Optional[RealPairs], index: int,
                batch: int, crop: int, share: float) -> Tuple[Tensor, Tensor]:
    """Generated batch `index`: real_count(batch, share) crops of real
    pairs (none without `real`) after the synthetic ones, on synth's
    device."""
    count = real_count(batch, share) if real is not None else 0
    parts = []
    if batch > count:
        parts.append(synth.batch(index, batch - count, crop))
    if count:
        parts.append(tuple(x.to(synth.device)
                           for x in real.batch(index, count, crop)))
    return (torch.cat([p[0] for p in parts]),
            torch.cat([p[1] for p in parts]))


def _data_process(synth_args: Dict, config: "TrainConfig", queue,
                  first: int, real_args: Optional[Dict] = None) -> None:
    """The data process: batches first, first + 1, ... into the queue.

    One thread, at the lowest priority: on a CPU-only machine it fills the
    cores' idle moments instead of taking a core from the step's threads
    (whose OpenMP barriers slow the step 4x when a core is taken away)."""
    import queue as queues
    torch.set_num_threads(1)
    os.nice(19)
    parent = os.getppid()
    reuse = max(1, config.reuse)
    try:
        synth = DefocusSynth(**synth_args)
        real = RealPairs(**real_args) if real_args else None
        index = first
        while index * reuse < config.steps:
            blurry, sharp = mixed_batch(
                synth, real, index, *config.batch_shape(index * reuse),
                config.real_share)
            # numpy arrays travel by pickling: no shared-memory handles
            # that die with this process.
            item = (index, blurry.numpy(), sharp.numpy())
            while True:
                if os.getppid() != parent:
                    return  # the trainer is gone (killed): so are we
                try:
                    queue.put(item, timeout=5)
                    break
                except queues.Full:
                    continue
            index += 1
    except Exception as error:  # reported to the trainer, which raises
        queue.put((repr(error), None, None))


def synth_config(config: "TrainConfig") -> SynthConfig:
    """The generator's configuration for a run: measured kernels only from
    the folds it trains on (all of them when none is held out)."""
    folds = ""
    if config.bank_share > 0 and config.fold >= 0:
        split = Folds(config.folds or FOLDS_FILE)
        split.check_fold(config.fold)
        folds = ",".join(str(k) for k in range(len(split))
                         if k != config.fold)
    return SynthConfig(max_radius=config.max_radius,
                       bank_share=config.bank_share,
                       kernel_bank=config.kernel_bank, bank_folds=folds,
                       noise_scale=config.noise_scale)


def real_pairs_dir(config: "TrainConfig", data: str) -> str:
    """--real-pairs as given, or as a folder of the data directory
    (--real-pairs dpdd1024-dev) when no such folder exists as given."""
    if os.path.isdir(config.real_pairs):
        return config.real_pairs
    return os.path.join(data, config.real_pairs)


def describe_hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return "cuda:" + torch.cuda.get_device_name(device)
    return "cpu:%d-threads" % torch.get_num_threads()


class Trainer:
    """One training run in run_dir, resumed from run_dir/last.pt if there."""

    def __init__(self, config: "TrainConfig", run_dir: str,
                 make_network: Callable[["TrainConfig"], nn.Module]
                 = _default_network,
                 log=print, overrides: Sequence[str] = ()):
        self.run_dir = run_dir
        self.say = log
        os.makedirs(run_dir, exist_ok=True)
        checkpoint = self._read_checkpoint()
        if checkpoint is not None:
            known = {f.name for f in fields(TrainConfig)}
            dropped = sorted(set(checkpoint["config"]) - known)
            if dropped:
                self.say("options of an older trainer ignored: "
                         + ", ".join(dropped))
            saved = TrainConfig(**{k: v for k, v in
                                   checkpoint["config"].items()
                                   if k in known})
            where = {name: getattr(config, name) for name in MACHINE_OPTIONS}
            where.update({name: getattr(config, name) for name in overrides
                          if name in CHUNK_OPTIONS})
            if replace(saved, **where) != config:
                self.say("resuming with the run's saved configuration; "
                         "options given now are ignored except "
                         + ", ".join(MACHINE_OPTIONS) + " and, when "
                         "given, " + ", ".join(CHUNK_OPTIONS))
            config = replace(saved, **where)
        self.config = config
        check_sizes(config)
        self.device = pick_device(config.device)
        self.amp = autocast_dtype(config.amp, self.device)
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        np.random.seed(config.seed)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.net = make_network(config).to(self.device)
        self.ema: Optional[nn.Module] = None
        if config.ema_decay > 0:
            self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.train_seconds = 0.0   # all chunks, all machines
        self.hardware = describe_hardware(self.device)
        self.source: Optional[BatchSource] = None
        self.input_losses: List[float] = []
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr,
                                          betas=(0.9, 0.999))
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp == torch.float16)
        self.swa: Optional[AveragedModel] = None
        self.step = 0
        self.lpips = (LPIPS(config.lpips_weights).to(self.device)
                      if config.lpips_weights else None)
        data = config.data or data_dir()
        self.data = data
        self.synth_args = dict(data=data,
                               config=synth_config(config),
                               split="train", seed=config.seed,
                               device=self.device
                               if config.prefetch <= 0 else "cpu")
        self.synth = DefocusSynth(**dict(self.synth_args,
                                         device=self.device))
        if config.prefetch <= 0:
            self.synth_args["device"] = self.device
        self.real_args = self._real_source(config, data)
        self._validation = None
        self.log_path = os.path.join(run_dir, "log.jsonl")
        parent = None
        if checkpoint is not None:
            self._restore(checkpoint)
        else:
            if config.init_from:
                parent = self._start_from(config.init_from)
            open(self.log_path, "w").close()
            self._log({"event": "start", "config": asdict(config),
                       "init_from": parent,
                       "network": _network_dict(self.net),
                       "parameters": sum(p.numel()
                                         for p in self.net.parameters()),
                       "device": str(self.device),
                       "amp": str(self.amp).replace("torch.", ""),
                       "kernel_bank": self._bank_record(),
                       "lpips": "on" if self.lpips else
                       "off (no local weights file given)"})
        if self.lpips is None:
            self.say("LPIPS term off: no local weights file "
                     "(--lpips-weights); loss = MSE + 0.2 FFT-L1 per scale")

    @staticmethod
    def _real_source(config: "TrainConfig", data: str) -> Optional[Dict]:
        """RealPairs' arguments for the run's real share (None without
        one): the real_pairs folder's pairs outside the held-out fold."""
        if config.real_share < 0 or config.real_share > 1:
            raise ValueError("--real-share must lie in [0, 1], not %g"
                             % config.real_share)
        if config.real_share > 0 and not config.real_pairs:
            raise ValueError("--real-share needs --real-pairs DIR")
        if not config.real_pairs or config.real_share == 0:
            return None
        pairs_dir = real_pairs_dir(config, data)
        if not os.path.isdir(pairs_dir):
            raise FileNotFoundError("no real pairs at %s (--real-pairs; "
                                    "set FDIKP_DATA)" % pairs_dir)
        return dict(pairs_dir=pairs_dir, seed=config.seed,
                    names=training_names(pairs_dir, config.fold,
                                         config.folds or None))

    def _bank_record(self) -> Optional[Dict]:
        """Which measured kernels the run draws from (None without)."""
        if self.synth.bank is None:
            return None
        import hashlib
        path = self.synth.config.kernel_bank or BANK_FILE
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        return {"path": path, "sha256": digest,
                "folds": self.synth.config.bank_folds or "all",
                "kernels": len(self.synth.bank)}

    # -- state -------------------------------------------------------------

    def _read_checkpoint(self) -> Optional[Dict]:
        path = os.path.join(self.run_dir, "last.pt")
        if not os.path.exists(path):
            return None
        return torch.load(path, map_location="cpu", weights_only=True)

    def _restore(self, checkpoint: Dict) -> None:
        stored = checkpoint.get("network")
        mine = _network_dict(self.net)
        if (stored is not None and mine is not None
                and _weights_layout(stored) != _weights_layout(mine)):
            raise ValueError("the checkpoint holds network %r, the run "
                             "builds %r" % (stored, mine))
        self.net.load_state_dict(float_state(checkpoint["model"]))
        if checkpoint.get("ema") is not None and self.ema is not None:
            self.ema.load_state_dict(float_state(checkpoint["ema"]))
        elif self.ema is not None:
            self.ema.load_state_dict(self.net.state_dict())
        if "optimizer" in checkpoint:
            self.optimizer.load_state_dict(
                _optimizerfloat_state(checkpoint["optimizer"]))
            self.scaler.load_state_dict(checkpoint["scaler"])
        else:
            self.say("snapshot without optimizer state (model/device): "
                     "Adam's moments start afresh")
        if checkpoint.get("swa") is not None:
            self.swa = AveragedModel(self.net)
            self.swa.load_state_dict(checkpoint["swa"])
        self.step = checkpoint["step"]
        self.train_seconds = float(checkpoint.get("train_seconds", 0.0))
        set_rng_state(checkpoint["rng"])
        # Drop log lines written after the checkpoint: they get rewritten.
        with open(self.log_path, "a") as f:
            f.truncate(checkpoint["log_bytes"])
        self.say("resumed %s at step %d" % (self.run_dir, self.step))

    def _start_from(self, path: str) -> Dict:
        """Start from another run's current weights, or its EMA with
        --init-weights ema (they start this run's EMA too), and count
        its training time as this run's: `hours` stay the compute that
        went into the weights. The step count, Adam's moments and the
        rate schedule (with its warm-up) start afresh."""
        parent = torch.load(path, map_location="cpu", weights_only=True)
        stored, mine = parent.get("network"), _network_dict(self.net)
        grown = (_weights_layout(stored) != _weights_layout(mine)
                 and growable(stored, mine))
        if _weights_layout(stored) != _weights_layout(mine) and not grown:
            raise ValueError("--init-from %s holds network %r, the run "
                             "builds %r" % (path, stored, mine))
        if self.config.init_weights not in ("current", "ema"):
            raise ValueError("--init-weights is current or ema, not %r"
                             % self.config.init_weights)
        which = "model"
        if self.config.init_weights == "ema":
            if parent.get("ema") is None:
                raise ValueError("--init-from %s holds no EMA" % path)
            which = "ema"
        weights = float_state(parent[which])
        if grown:
            weights = grown_state(weights, stored, self.net.state_dict())
            self.say(describe(stored, mine))
        self.net.load_state_dict(weights)
        if self.ema is not None:
            self.ema.load_state_dict(weights)
        self.train_seconds = float(parent.get("train_seconds", 0.0))
        record = {"path": path, "step": int(parent.get("step", 0)),
                  "weights": self.config.init_weights,
                  "hours": self.train_seconds / 3600,
                  "loss": parent.get("config", {}).get("loss", "mse")}
        if grown:
            record["grown_from"] = stored
        self.say("starting from %s (step %d, %.2f h)"
                 % (path, record["step"], record["hours"]))
        return record

    def summary(self) -> str:
        c = self.config
        real = ""
        if self.real_args:
            real = (" and %.0f%% crops of %d real pairs of %s (%s)"
                    % (100 * c.real_share, len(self.real_args["names"]),
                       os.path.basename(self.real_args["pairs_dir"]
                                        .rstrip("/")),
                       "fold %d held out" % c.fold if c.fold >= 0
                       else "every fold"))
        return ("%s trained %d steps (%.1f h) on synthetic defocus from "
                "train-photos/ and train-depth/ (fdikp.synth)%s, crops "
                "%d/%d, %d stages, seed %d; loss %sMSE + 0.2 FFT-L1%s%s"
                % (c.network.upper(), self.step, self.train_seconds / 3600,
                   real, c.crop, c.crop2, c.stages, c.seed,
                   "per-image dB gain over the input of "
                   if c.loss == "psnr" else "",
                   " + 0.2 LPIPS" if self.lpips else " (LPIPS off)",
                   "; EMA %g of the weights" % c.ema_decay
                   if self.ema is not None else ""))

    def save(self) -> str:
        """Write run_dir/last.pt atomically."""
        path = os.path.join(self.run_dir, "last.pt")
        with open(self.log_path, "a") as f:
            log_bytes = f.tell()
        compact = self.config.compact_state != "no"
        weights = _as_half if compact else (lambda state: state)
        state = {"model": weights(self.net.state_dict()),
                 "ema": (weights(self.ema.state_dict())
                         if self.ema is not None else None),
                 "network": _network_dict(self.net),
                 "optimizer": (_optimizer_as_bf16(self.optimizer.state_dict())
                               if compact else self.optimizer.state_dict()),
                 "scaler": self.scaler.state_dict(),
                 "swa": (weights(self.swa.state_dict())
                         if self.swa else None),
                 "step": self.step, "config": asdict(self.config),
                 "train_seconds": self.train_seconds,
                 "rng": rng_state(), "log_bytes": log_bytes,
                 "training_summary": self.summary()}
        if self.config.compact_state == "weights":
            del state["optimizer"], state["scaler"]
        torch.save(state, path + ".tmp")
        os.replace(path + ".tmp", path)
        return path

    def _log(self, record: Dict) -> None:
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    # -- training ----------------------------------------------------------

    def train_step(self) -> float:
        c = self.config
        if self.source is None:
            self.source = BatchSource(self.synth_args, c, self.step,
                                      self.real_args)
        blurry, sharp = self.source.get(self.step)
        blurry, sharp = blurry.to(self.device), sharp.to(self.device)
        generator = torch.Generator().manual_seed(
            c.seed * 7_919 + self.step)
        blurry, sharp = dihedral([blurry, sharp], generator)
        for group in self.optimizer.param_groups:
            group["lr"] = c.lr_at(self.step)
        self.net.train()
        with torch.autocast(self.device.type, dtype=self.amp or torch.float32,
                            enabled=self.amp is not None):
            outputs = supervised_outputs(self.net, blurry, c.stages)
        if c.loss == "psnr":
            # Relative to the input by construction: the input's is 0.
            loss = gain_loss(outputs, blurry, sharp, self.lpips)
            self.input_losses.append(0.0)
        else:
            loss = multiscale_loss(outputs, sharp, self.lpips)
            with torch.no_grad():
                # The same loss for the blurry input itself in each
                # output's place: the model helps on this batch when its
                # loss is below this one.
                inputs = Pyramid(blurry)
                self.input_losses.append(float(multiscale_loss(
                    [inputs.like(y) for y in outputs], sharp)))
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            with torch.no_grad():
                decay = min(c.ema_decay, (1.0 + self.step)
                            / (10.0 + self.step))
                for mine, theirs in zip(self.ema.state_dict().values(),
                                        self.net.state_dict().values()):
                    if mine.is_floating_point():
                        mine.lerp_(theirs, 1.0 - decay)
                    else:
                        mine.copy_(theirs)
        self.step += 1
        if self.step > c.phase1_steps():
            if self.swa is None:
                self.swa = AveragedModel(self.net)
            elif (self.step - c.phase1_steps()) % c.swa_every == 0:
                self.swa.update_parameters(self.net)
        return float(loss)

    def run(self, stop_at: Optional[int] = None) -> Optional[str]:
        """Train to config.steps (or to stop_at, WITHOUT saving: a simulated
        kill for tests). Returns the final weights' path when done."""
        try:
            return self._run(stop_at)
        finally:
            if self.source is not None:
                self.source.close()
                self.source = None

    def _run(self, stop_at: Optional[int]) -> Optional[str]:
        c = self.config
        start = last_save = last_tick = time.monotonic()
        window_start, window_images, losses = time.monotonic(), 0, []
        window_wait = 0.0
        while self.step < c.steps:
            if stop_at is not None and self.step >= stop_at:
                return None
            losses.append(self.train_step())
            now = time.monotonic()
            self.train_seconds += now - last_tick
            last_tick = now
            window_images += c.batch_shape(self.step - 1)[0]
            if self.step % c.log_every == 0 or self.step == c.steps:
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                seconds = time.monotonic() - window_start
                waited = self.source.wait_seconds - window_wait
                window_wait = self.source.wait_seconds
                inputs = self.input_losses[-len(losses):]
                self._log({"step": self.step,
                           "loss": sum(losses) / len(losses),
                           "input_loss": sum(inputs) / len(inputs),
                           "lr": c.lr_at(self.step - 1),
                           "images_per_s": window_images / seconds,
                           "s_per_step": seconds / len(losses),
                           # time the step waited for its batch: a data
                           # stall shows here
                           "data_wait_s_per_step": waited / len(losses),
                           "crop": c.batch_shape(self.step - 1)[1],
                           "hours": self.train_seconds / 3600,
                           "hardware": self.hardware})
                window_start, window_images, losses = time.monotonic(), 0, []
                self.input_losses = []
            if self.step % c.val_every == 0 or self.step == c.steps:
                self.validate()
                last_tick = time.monotonic()  # validation is not training
            now = time.monotonic()
            if (now - last_save > 60 * c.ckpt_minutes
                    or (c.ckpt_every and self.step % c.ckpt_every == 0)):
                self.save()
                last_save = now
            if c.max_minutes and now - start > 60 * c.max_minutes:
                self.save()
                self.say("stopped after %.1f min at step %d; run again to "
                         "resume" % ((now - start) / 60, self.step))
                return None
        self.save()
        return self.finish()

    def finish(self) -> str:
        """Final weights: the SWA average after update_bn, or the current
        weights when phase 2 never began."""
        c = self.config
        net = self.net
        if self.swa is not None:
            batch, crop = c.batch2, c.crop2
            inputs = [self.synth.batch(BN_UPDATE_SEED + i, batch, crop)[0]
                      for i in range(c.bn_batches)]
            update_bn(inputs, _Staged(self.swa.module, c.stages),
                      device=self.device)
            net = self.swa.module
        if self.swa is None and self.ema is not None:
            net = self.ema
        path = os.path.join(self.run_dir, "final.pt")
        torch.save({"model": net.state_dict(),
                    "network": _network_dict(self.net),
                    "training_summary": self.summary()}, path)
        self._log({"event": "final", "step": self.step, "swa": bool(self.swa),
                   "weights": path})
        return path

    # -- validation --------------------------------------------------------

    def validation_data(self):
        """(synthetic blurry, sharp, real blurry, sharp), built once."""
        if self._validation is None:
            c = self.config
            blurry, sharp = validation_set(
                self.data, c.val_count, c.val_crop,
                config=SynthConfig(max_radius=c.max_radius))
            real_blurry, real_sharp = [], []
            pairs_dir = (real_pairs_dir(c, self.data) if c.real_pairs
                         else os.path.join(self.data, "dpdd1024-dev"))
            if c.real_count and os.path.isdir(pairs_dir):
                names = list_pairs(pairs_dir)
                if c.fold >= 0:  # the held-out fold: never trained on
                    names = held_out_names(pairs_dir, c.fold,
                                           c.folds or None)
                spacing = max(1, len(names) // c.real_count)
                for name in names[::spacing][:c.real_count]:
                    for sub, out in (("blur", real_blurry),
                                     ("sharp", real_sharp)):
                        out.append(centre_crop(load_image(
                            os.path.join(pairs_dir, sub, name)), c.real_crop))
            real = ((torch.stack(real_blurry), torch.stack(real_sharp))
                    if real_blurry else (None, None))
            self._validation = (blurry, sharp) + real
        return self._validation

    @torch.no_grad()
    def restore_batches(self, net: nn.Module, blurry: Tensor,
                        batch: int = 4) -> Tensor:
        net.eval()
        out = []
        for i in range(0, blurry.shape[0], batch):
            x = blurry[i:i + batch].to(self.device)
            with torch.autocast(self.device.type,
                                dtype=self.amp or torch.float32,
                                enabled=self.amp is not None):
                out.append(net(x, self.config.stages).float().clamp(0, 1)
                           .cpu())
        net.train()
        return torch.cat(out)

    def scores(self, net: nn.Module) -> Dict[str, float]:
        """val_* scores of `net` on the fixed synthetic set and the real
        crops, with the blurry input's beside them."""
        blurry, sharp, real_blurry, real_sharp = self.validation_data()
        restored = self.restore_batches(net, blurry)
        # The sharp crops themselves through the model: what it does to a
        # photo that is in focus already (the identity leaves it intact).
        resharpened = self.restore_batches(net, sharp)
        record = {"val_synth_loss": float(scale_loss(restored, sharp)),
                  "val_synth_psnr":
                      float(metrics.psnr(restored, sharp).mean()),
                  "val_synth_input_psnr":
                      float(metrics.psnr(blurry, sharp).mean()),
                  "val_sharp_psnr": float(metrics.psnr(
                      resharpened, sharp).clamp(max=100).mean())}
        if real_blurry is not None:
            restored = self.restore_batches(net, real_blurry, batch=2)
            record.update(
                val_real_psnr=float(metrics.psnr(restored, real_sharp).mean()),
                val_real_ssim=float(metrics.ssim(restored, real_sharp).mean()),
                val_real_input_psnr=float(
                    metrics.psnr(real_blurry, real_sharp).mean()),
                val_real_input_ssim=float(
                    metrics.ssim(real_blurry, real_sharp).mean()))
        return record

    def validate(self, net: Optional[nn.Module] = None) -> Dict:
        """Scores of `net` (default: the EMA when there is one, else the
        current weights). With an EMA and no `net`, the current weights
        are scored too (keys current_val_*): which of the two is better is
        measured (the EMA lags the weights by about 1 / (1 - decay)
        steps), and export can take either (--weights-from)."""
        chosen = net or self.ema or self.net
        record = {"step": self.step,
                  "hours": self.train_seconds / 3600,
                  "hardware": self.hardware,
                  "weights": "ema" if chosen is self.ema else "current"}
        if self.real_args:
            # Whether the real crops scored are pairs this run trains on.
            record["val_real_pairs"] = ("held-out fold %d" % self.config.fold
                                        if self.config.fold >= 0
                                        else "trained on")
        record.update(self.scores(chosen))
        if net is None and self.ema is not None:
            record.update({"current_" + k: v
                           for k, v in self.scores(self.net).items()
                           if "input" not in k})
        self._log(record)
        self.say(" ".join(("%s=%.4g" if isinstance(v, float) else "%s=%s")
                          % (k, v) for k, v in record.items()))
        return record


def _as_half(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {k: v.half() if v.is_floating_point() else v
            for k, v in state.items()}


def _optimizer_as_bf16(state: Dict) -> Dict:
    """Adam's moments in bfloat16 (float16 would flush the second moment
    to zero): half the size, and enough to resume a run between chunks."""
    moments = {index: {k: v.bfloat16() if k.startswith("exp_avg") else v
                       for k, v in per_param.items()}
               for index, per_param in state["state"].items()}
    return {"state": moments, "param_groups": state["param_groups"]}


def _optimizerfloat_state(state: Dict) -> Dict:
    moments = {index: {k: v.float() if k.startswith("exp_avg") else v
                       for k, v in per_param.items()}
               for index, per_param in state["state"].items()}
    return {"state": moments, "param_groups": state["param_groups"]}


def _yes_no(text: str) -> bool:
    if text.lower() in ("1", "yes", "true", "on"):
        return True
    if text.lower() in ("0", "no", "false", "off"):
        return False
    raise argparse.ArgumentTypeError("expected yes or no, got " + text)


def parse_config(argv: Optional[List[str]] = None):
    parser = argparse.ArgumentParser(
        prog="python3 -m fdikp.train",
        description="Train FDIKP on synthetic defocus; run again to resume.")
    parser.add_argument("--run", required=True, metavar="DIR",
                        help="run directory (checkpoint, log, final weights)")
    defaults = TrainConfig()
    for field in fields(TrainConfig):
        kind = type(getattr(defaults, field.name))
        parser.add_argument("--" + field.name.replace("_", "-"),
                            type=_yes_no if kind is bool else kind,
                            default=getattr(defaults, field.name))
    args = parser.parse_args(argv)
    config = TrainConfig(**{f.name: getattr(args, f.name)
                            for f in fields(TrainConfig)})
    given = {f.name for f in fields(TrainConfig)
             if any(a == "--" + f.name.replace("_", "-")
                    or a.startswith("--" + f.name.replace("_", "-") + "=")
                    for a in (argv if argv is not None else sys.argv[1:]))}
    return args.run, config, given


def main(argv=None) -> int:
    run_dir, config, given = parse_config(argv)
    trainer = Trainer(config, run_dir, overrides=given,
                      log=lambda line: print(line, flush=True))
    final = trainer.run()
    if final:
        print("final weights:", final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
