"""Checks the model tests share."""

from torch import nn


def silent_parameters(net: nn.Module):
    """Names of the parameters the last backward pass gave no (or an
    all-zero) gradient: a part of the network that does not learn."""
    return [name for name, p in net.named_parameters()
            if p.grad is None or not p.grad.abs().sum() > 0]
