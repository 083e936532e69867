"""Grow a trained FDIKP into a deeper one that computes the same function.

A run may start from a smaller network's weights (`fdikp.train --init-from
STATE` with a larger `--network`) when the larger configuration differs
only in the number of (intra, inter) strip-attention pairs of the DDM.
Every weight of the smaller network is copied; each added StripBlock
starts as the identity: its three residual branches end in `fuse`,
`mlp_out` and `position`, which start at zero, so x + 0 + 0 + 0 = x.
The grown network therefore returns exactly what its parent returned
(tests/test_grow.py) and training starts at the parent's score, with
the added blocks learning from the first step (the gradient of a zero
output convolution is not zero).

Why strip attention: the DDM's pairs are the network's only global
operators (a whole row or column attends), the part of the paper's size
that `fdikp-s` cut most (3 pairs to 1) and the part that bears on large
blur. Res blocks cannot be grown this way (act(conv(...) + x) is not the
identity with a zero conv: the leaky ReLU is not idempotent).
"""

from typing import Dict, Optional

import torch
from torch import Tensor

from .network import NetworkConfig, network_config

# The DDM's StripBlocks, as state-dict prefixes: spatial.<index>.
DDM_SPATIAL = "dsrm.ddm.spatial."
# The layers that end each residual branch of a StripBlock.
BRANCH_ENDS = ("fuse", "mlp_out", "position")


def growable(parent: Dict, child: Dict) -> bool:
    """Whether `child` (a stored network configuration) is `parent` with
    more strip-attention pairs and nothing else changed (the name and the
    weightless tone_sigma aside)."""
    if not isinstance(parent, dict) or not isinstance(child, dict):
        return False
    ignore = ("name", "tone_sigma", "strip_blocks")
    same = ({k: v for k, v in parent.items() if k not in ignore}
            == {k: v for k, v in child.items() if k not in ignore})
    return same and int(child.get("strip_blocks", 0)) > int(
        parent.get("strip_blocks", 0))


def grown_state(parent_state: Dict[str, Tensor], parent: Dict,
                child_state: Dict[str, Tensor],
                child: Optional[Dict] = None) -> Dict[str, Tensor]:
    """The child's state dict: the parent's weights where the parent has
    them, the added StripBlocks as built (child_state) with their branch
    ends zeroed. child_state is the child network's own state_dict()."""
    first_new = 2 * network_config(parent).strip_blocks
    state: Dict[str, Tensor] = {}
    for key, value in child_state.items():
        if key in parent_state:
            if parent_state[key].shape != value.shape:
                raise ValueError("%s: parent %s, child %s" % (
                    key, tuple(parent_state[key].shape), tuple(value.shape)))
            state[key] = parent_state[key].clone()
            continue
        if not key.startswith(DDM_SPATIAL):
            raise ValueError("%s is not in the parent and is not a strip-"
                             "attention block: not a grown network" % key)
        index, layer = key[len(DDM_SPATIAL):].split(".")[:2]
        if int(index) < first_new:
            raise ValueError("%s should come from the parent" % key)
        state[key] = (torch.zeros_like(value) if layer in BRANCH_ENDS
                      else value.clone())
    missing = set(parent_state) - set(child_state)
    if missing:
        raise ValueError("the child lacks parent weights: %s"
                         % ", ".join(sorted(missing)[:5]))
    return state


def describe(parent: Dict, child: Dict) -> str:
    p, c = NetworkConfig.from_dict(parent), NetworkConfig.from_dict(child)
    return ("grown from %s: strip-attention pairs %d -> %d (the added %d "
            "start as the identity)" % (p.name, p.strip_blocks,
                                        c.strip_blocks,
                                        c.strip_blocks - p.strip_blocks))
