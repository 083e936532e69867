"""FDIKP: frequency-driven inverse kernel prediction for defocus deblurring.

A PyTorch reading of Zhang, Tang, Li, Chen and Wu, "Frequency-Driven Inverse
Kernel Prediction for Single Image Defocus Deblurring" (arXiv 2508.12736),
following the project's specification (design/fdikp-architecture.md).

Submodules:
    network  the scale-recurrent FDIKP network (``from fdikp.network import
             FDIKP``) and the padding helpers the exported model uses
    fikp     FIKP = DIKP (inverse kernel prediction) + PAC (its application)
    dsrm     DSRM: encoder, DDM, decoder and the APU recurrent unit
    deeprftv2  DeepRFTv2 (arXiv 2511.21132), the second architecture: FKE,
             DMS-UNet, reversible sub-units; exports through the same file
    registry the networks by name or stored configuration: build_network,
             load_network (checkpoint -> network)
    export   ``python3 -m fdikp.export``: checkpoint -> TorchScript file
    train    ``python3 -m fdikp.train``: the trainer (train_config, losses,
             feeding, validation, run_state hold its parts)
    summary  ``python3 -m fdikp.summary``: parameter count per module
"""

from .allocator import start_command

# Kept equal to the Meson project version: the exported model records it.
__version__ = "0.1.0"

# python3 -m fdikp.train (and the other commands that allocate maps step
# after step) starts again under jemalloc here, before the command imports
# torch: fdikp.allocator.
start_command()
