"""The training run's options (fdikp.train): TrainConfig, their checks,
the command line that sets them, and which of them a resumed run may
change.

    python3 -m fdikp.train --run DIR [--steps N] [--device cuda] ...

Every field of TrainConfig is a flag, in kebab-case (--phase2-steps). A run
stores its TrainConfig in its checkpoint; resuming takes the stored one,
except the machine's options (MACHINE_OPTIONS) and, when the command gives
them, a chunk's (CHUNK_OPTIONS).
"""

import argparse
import sys
from dataclasses import dataclass, fields, replace
from typing import Callable, Dict, List, Optional, Sequence

import torch

from .network import TRAINED_STAGES
from .registry import is_deeprftv2

LOSSES = ("mse", "psnr")  # --loss: multiscale_loss, gain_loss (fdikp.losses)
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
    folds: str = ""              # the fold file (default: fdikp/folds.json)
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


def resumed_config(saved: Dict, given: "TrainConfig",
                   overrides: Sequence[str] = (),
                   say: Callable[[str], None] = print) -> "TrainConfig":
    """The configuration a resumed run goes on with: the one its
    checkpoint saved (`saved`, as a dict: options of an older trainer
    are dropped, with a word), with the machine's options of the command
    that resumes it (`given`) and the chunk options it gave explicitly
    (`overrides`)."""
    known = {f.name for f in fields(TrainConfig)}
    dropped = sorted(set(saved) - known)
    if dropped:
        say("options of an older trainer ignored: " + ", ".join(dropped))
    config = TrainConfig(**{k: v for k, v in saved.items() if k in known})
    where = {name: getattr(given, name) for name in MACHINE_OPTIONS}
    where.update({name: getattr(given, name) for name in overrides
                  if name in CHUNK_OPTIONS})
    if replace(config, **where) != given:
        say("resuming with the run's saved configuration; "
            "options given now are ignored except "
            + ", ".join(MACHINE_OPTIONS) + " and, when "
            "given, " + ", ".join(CHUNK_OPTIONS))
    return replace(config, **where)


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
