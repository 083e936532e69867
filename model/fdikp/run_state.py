"""A training run's state (fdikp.train's DIR/last.pt): writing it,
resuming from it, and starting a run from another run's weights; what it
holds beside the weights: the random generators' states, and the compact
form of the weights and of Adam's moments (--compact-state)."""

import os
import random
from dataclasses import asdict
from typing import Dict, Optional

import numpy as np
import torch
from torch import Tensor
from torch.optim.swa_utils import AveragedModel

from .grow import describe, growable, grown_state
from .registry import float_state, network_dict, weights_layout


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


def as_half(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {k: v.half() if v.is_floating_point() else v
            for k, v in state.items()}


def optimizer_as_bf16(state: Dict) -> Dict:
    """Adam's moments in bfloat16 (float16 would flush the second moment
    to zero): half the size, and enough to resume a run between chunks."""
    moments = {index: {k: v.bfloat16() if k.startswith("exp_avg") else v
                       for k, v in per_param.items()}
               for index, per_param in state["state"].items()}
    return {"state": moments, "param_groups": state["param_groups"]}


def optimizer_float_state(state: Dict) -> Dict:
    moments = {index: {k: v.float() if k.startswith("exp_avg") else v
                       for k, v in per_param.items()}
               for index, per_param in state["state"].items()}
    return {"state": moments, "param_groups": state["param_groups"]}


class RunState:
    """fdikp.train.Trainer's state: save() writes run_dir/last.pt,
    _restore() resumes from it, _start_from() starts from another run's
    weights. They read and set the Trainer's config, run_dir, log_path,
    net, ema, optimizer, scaler, swa, step, train_seconds and say."""

    def _read_checkpoint(self) -> Optional[Dict]:
        path = os.path.join(self.run_dir, "last.pt")
        if not os.path.exists(path):
            return None
        return torch.load(path, map_location="cpu", weights_only=True)

    def _restore(self, checkpoint: Dict) -> None:
        stored = checkpoint.get("network")
        mine = network_dict(self.net)
        if (stored is not None and mine is not None
                and weights_layout(stored) != weights_layout(mine)):
            raise ValueError("the checkpoint holds network %r, the run "
                             "builds %r" % (stored, mine))
        self.net.load_state_dict(float_state(checkpoint["model"]))
        if checkpoint.get("ema") is not None and self.ema is not None:
            self.ema.load_state_dict(float_state(checkpoint["ema"]))
        elif self.ema is not None:
            self.ema.load_state_dict(self.net.state_dict())
        if "optimizer" in checkpoint:
            self.optimizer.load_state_dict(
                optimizer_float_state(checkpoint["optimizer"]))
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
        stored, mine = parent.get("network"), network_dict(self.net)
        grown = (weights_layout(stored) != weights_layout(mine)
                 and growable(stored, mine))
        if weights_layout(stored) != weights_layout(mine) and not grown:
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

    def save(self) -> str:
        """Write run_dir/last.pt atomically."""
        path = os.path.join(self.run_dir, "last.pt")
        with open(self.log_path, "a") as f:
            log_bytes = f.tell()
        compact = self.config.compact_state != "no"
        weights = as_half if compact else (lambda state: state)
        state = {"model": weights(self.net.state_dict()),
                 "ema": (weights(self.ema.state_dict())
                         if self.ema is not None else None),
                 "network": network_dict(self.net),
                 "optimizer": (optimizer_as_bf16(self.optimizer.state_dict())
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
