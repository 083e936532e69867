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

This module holds the Trainer and the command; the rest of the run lives
in train_config (TrainConfig, the command line, what a resume may change),
losses, feeding (batches), validation (val_* scores), run_state (last.pt)
and registry (the networks). The names below in __all__ stay importable
from here.
"""

import copy
import json
import os
import random
import sys
import time
from dataclasses import asdict, replace
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, update_bn

from .feeding import BatchSource, bank_record, dihedral, real_source, synth_config
from .losses import (GAIN_LOSS_FLOOR, LPIPS, Pyramid, finite_gradients, gain_loss,
                     multiscale_loss, per_image_loss, scale_loss, supervised_outputs)
from .registry import build_network, config_from_checkpoint, network_dict, with_tone_sigma
from .run_state import RunState
from .synth import DefocusSynth, SynthConfig, data_dir
from .train_config import (CHUNK_OPTIONS, LOSSES, MACHINE_OPTIONS, TrainConfig, autocast_dtype,
                           check_sizes, parse_config, pick_device, resumed_config)
from .validation import Validator

# What tests and scripts use as fdikp.train.<name>, wherever it is defined.
__all__ = ["BatchSource", "CHUNK_OPTIONS", "DefocusSynth", "GAIN_LOSS_FLOOR", "LOSSES",
           "MACHINE_OPTIONS", "SynthConfig", "TrainConfig", "Trainer", "check_sizes",
           "dihedral", "gain_loss", "main", "multiscale_loss", "parse_config",
           "per_image_loss", "scale_loss", "supervised_outputs", "synth_config"]

BN_UPDATE_SEED = 1 << 30  # batch indices for update_bn, apart from training


class _Staged(nn.Module):
    """net(x, stages) as a one-argument module, for update_bn."""

    def __init__(self, net: nn.Module, stages: int):
        super().__init__()
        self.net, self.stages = net, stages

    def forward(self, x):
        return self.net(x, self.stages)


def _default_network(config: TrainConfig) -> nn.Module:
    """FDIKP or DeepRFTv2 by the configuration's name (fdikp.registry
    builds either from what a checkpoint stores)."""
    net_config = config_from_checkpoint({"network": config.network})
    if config.init == "default":
        net_config = replace(net_config, identity_start=False)
    net = build_network(net_config)
    return with_tone_sigma(net, config.tone_sigma) if config.tone_sigma else net


def describe_hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return "cuda:" + torch.cuda.get_device_name(device)
    return "cpu:%d-threads" % torch.get_num_threads()


class Trainer(RunState):
    """One training run in run_dir, resumed from run_dir/last.pt if there."""

    def __init__(self, config: TrainConfig, run_dir: str,
                 make_network: Callable[[TrainConfig], nn.Module]
                 = _default_network,
                 log=print, overrides: Sequence[str] = ()):
        self.run_dir = run_dir
        self.say = log
        os.makedirs(run_dir, exist_ok=True)
        checkpoint = self._read_checkpoint()
        if checkpoint is not None:
            config = resumed_config(checkpoint["config"], config, overrides,
                                    self.say)
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
        self.skipped_steps = 0  # batches not learned from: train_step
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
        self.real_args = real_source(config, data)
        self.validator = Validator(config, data, self.device, self.amp)
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
                       "network": network_dict(self.net),
                       "parameters": sum(p.numel()
                                         for p in self.net.parameters()),
                       "device": str(self.device),
                       "amp": str(self.amp).replace("torch.", ""),
                       "kernel_bank": bank_record(self.synth),
                       "lpips": "on" if self.lpips else
                       "off (no local weights file given)"})
        if self.lpips is None:
            self.say("LPIPS term off: no local weights file "
                     "(--lpips-weights); loss = MSE + 0.2 FFT-L1 per scale")

    # -- state (run_state.RunState: save, _restore, _start_from) -------

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
        # fp16's scaler skips a step whose gradient overflowed; the other
        # precisions skip one that is not finite here, so that one bad
        # batch cannot make every weight NaN and be saved (a map-head run
        # lost its state that way to NaN gradients from oneDNN's float32
        # convolution backward on these CPUs, 2026-12-06).
        learned = self.scaler.is_enabled() or finite_gradients(self.net)
        if learned:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.skipped_steps += 1
            self.say("step %d: the loss or a gradient is not finite; this batch is not "
                     "learned from (%d such so far)" % (self.step, self.skipped_steps))
        if self.ema is not None and learned:
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
                    "network": network_dict(self.net),
                    "training_summary": self.summary()}, path)
        self._log({"event": "final", "step": self.step, "swa": bool(self.swa),
                   "weights": path})
        return path

    # -- validation --------------------------------------------------------

    def validation_data(self):
        """(synthetic blurry, sharp, real blurry, sharp), built once."""
        return self.validator.validation_data()

    def restore_batches(self, net: nn.Module, blurry: Tensor,
                        batch: int = 4) -> Tensor:
        return self.validator.restore_batches(net, blurry, batch)

    def scores(self, net: nn.Module) -> Dict[str, float]:
        """val_* scores of `net` (fdikp.validation)."""
        return self.validator.scores(net)

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
