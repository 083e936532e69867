"""The networks this package builds, and how a checkpoint names one.

FDIKP (fdikp.network) and DeepRFTv2 (fdikp.deeprftv2) are built from a
configuration, a named one (`fdikp`, `fdikp-s`, `deeprftv2-s`...) or the
dict a checkpoint stores as its `network` entry: DeepRFTv2's carry
`architecture: DeepRFTv2`, FDIKP's none. The trainer (fdikp.train) builds
and stores networks through this module, the exporter (fdikp.export) and
the evaluation tools load them through it.

    from fdikp.registry import build_network, load_network
"""

import copy
from dataclasses import replace
from typing import Dict, Optional, Union

import torch
from torch import Tensor, nn

from .deeprftv2 import ARCHITECTURE as DEEPRFTV2
from .deeprftv2 import CONFIGS as DEEPRFTV2_CONFIGS
from .deeprftv2 import DeepRFTv2, DeepRFTv2Config, deeprftv2_config
from .network import FDIKP, TRAINED_STAGES, NetworkConfig, network_config

# Either network: both have max_stages, size_multiple(stages),
# stage_outputs(x, stages) and config.
Network = Union[FDIKP, DeepRFTv2]

WEIGHTS_FROM = ("ema", "current")


def is_deeprftv2(stored: Union[str, Dict, None]) -> bool:
    """Whether a stored configuration (a dict or a name) is DeepRFTv2's."""
    if isinstance(stored, dict):
        return stored.get("architecture") == DEEPRFTV2
    return isinstance(stored, str) and stored in DEEPRFTV2_CONFIGS


def config_from_checkpoint(checkpoint: Dict
                           ) -> Union[NetworkConfig, DeepRFTv2Config]:
    """The network configuration stored with the weights ('network': a
    dict or a name); without one, FDIKP's paper-size configuration."""
    stored = checkpoint.get("network") if isinstance(checkpoint, dict) \
        else None
    if is_deeprftv2(stored):
        return deeprftv2_config(stored)
    return network_config(stored)


def build_network(config: Union[str, NetworkConfig, DeepRFTv2Config]
                  ) -> Network:
    """FDIKP or DeepRFTv2, by the configuration's type or name."""
    if isinstance(config, DeepRFTv2Config) or is_deeprftv2(config):
        return DeepRFTv2(config)
    return FDIKP(config)


def network_dict(net: nn.Module) -> Optional[Dict]:
    """What a checkpoint stores as its 'network' entry (None for a module
    without a configuration)."""
    config = getattr(net, "config", None)
    return config.to_dict() if hasattr(config, "to_dict") else None


def weights_layout(network: Optional[Dict]) -> Optional[Dict]:
    """What of a stored network configuration the weights depend on: all
    but tone_sigma (network.keep_tone has no weights; states saved before
    it existed lack it)."""
    if not isinstance(network, dict):
        return network
    return {k: v for k, v in network.items() if k != "tone_sigma"}


def state_dict_from_checkpoint(
        checkpoint: Union[Dict[str, Tensor], Dict[str, object]],
        weights_from: str = "ema") -> Dict[str, Tensor]:
    """The network's state_dict from {'model': state_dict, ...} (the
    'ema' entry instead when there is one, unless weights_from is
    'current') or a bare state_dict; a 'module.' prefix (SWA's
    AveragedModel, DataParallel) and SWA's n_averaged counter are
    dropped."""
    if weights_from not in WEIGHTS_FROM:
        raise ValueError("weights_from must be one of %s" % (WEIGHTS_FROM,))
    state = checkpoint.get("model", checkpoint)
    if weights_from == "ema" and isinstance(checkpoint.get("ema"), dict):
        # A training state (fdikp.train's last.pt): its EMA of the weights,
        # which validation scores first. Which of the two scores better is
        # measured, not assumed (the log has both).
        state = checkpoint["ema"]
    if not isinstance(state, dict):
        raise ValueError("checkpoint['model'] is not a state_dict")
    cleaned = {}
    for key, value in state.items():
        if key == "n_averaged":
            continue
        if key.startswith("module."):
            key = key[len("module."):]
        cleaned[key] = value
    return cleaned


def float_state(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """A state_dict with its floating-point tensors in float32 (compact
    training states keep float16 weights)."""
    return {k: v.float() if v.is_floating_point() else v
            for k, v in state.items()}


def load_network(weights: str, weights_from: str = "ema") -> Network:
    """The network a checkpoint file holds, with its weights, in eval
    mode."""
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    net = build_network(config_from_checkpoint(checkpoint))
    net.load_state_dict(float_state(
        state_dict_from_checkpoint(checkpoint, weights_from)))
    return net.eval()


def with_tone_sigma(net: Network, sigma: float) -> FDIKP:
    """The same weights in a network that keeps the input's tone with
    this sigma (no parameters of its own: network.keep_tone). ValueError
    for a network that cannot (DeepRFTv2) or a sigma below 0."""
    if not isinstance(net, FDIKP):
        raise ValueError("--tone-sigma: only FDIKP networks keep the tone")
    if not sigma >= 0.0:
        raise ValueError("--tone-sigma must be 0 or more")
    # A copy, not a new network loaded with the weights: nothing is
    # initialised, so the random generators are left as they were.
    tuned = copy.deepcopy(net)
    tuned.config = replace(net.config, tone_sigma=sigma)
    tuned.tone_sigma = tuned.config.tone_sigma
    return tuned


def architecture(net: Network) -> str:
    return DEEPRFTV2 if isinstance(net, DeepRFTv2) else "FDIKP"


def default_stages_of(net: Network) -> int:
    """The stage count a network runs with unless told (FDIKP: the 3 it is
    trained with; DeepRFTv2: its single stage)."""
    return getattr(net, "default_stages", TRAINED_STAGES)
