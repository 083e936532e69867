"""A defocus map in the exported model file (docs/model/defocus-map.md).

    python3 -m fdikp.export --weights CKPT.pt --defocus-head RUN/last.pt --out FILE.pt

puts a trained fdikp.defocus_head.DefocusHead into the same TorchScript
file as one more method beside forward:

    defocus_map(image: Tensor[N, 3, H, W] in [0, 1]) -> Tensor[N, 1, H, W]

the radius of the blur disc at each pixel, in pixels (float32, >= 0), for
any image size (padded to the head's multiple and cropped back, as forward
pads to its own). forward and its weights are untouched: the deblurred
output is bit for bit what the file without a map gives. The metadata says
so with defocus_map = 1, defocus_map_unit = "px", defocus_map_multiple and
defocus_map_training (engine/contract.json); the engine checks the method
on a probe image when it loads the file and runs it through the same tiles
as forward (Output::DefocusMap in engine/engine.h).
"""

from typing import Dict, Tuple, Union

import torch
from torch import Tensor

from .defocus_head import DefocusHead
from .deblur_model import DeblurModel
from .network import crop, pad_to_multiple
from .registry import Network

METHOD = "defocus_map"
UNIT = "px"
# The head's three stride-2 stages: sides that are multiples of 8 keep its
# encoder and decoder maps aligned.
HEAD_MULTIPLE = 8


class DeblurModelWithMap(DeblurModel):
    """DeblurModel (forward unchanged) and the map head."""

    def __init__(self, net: Network, head: DefocusHead):
        super().__init__(net)
        self.head = head
        self.map_multiple = HEAD_MULTIPLE

    @torch.jit.export
    def defocus_map(self, image: Tensor) -> Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError("expected an N x 3 x H x W image")
        padded, height, width = pad_to_multiple(image, self.map_multiple)
        return crop(self.head(padded), height, width).clamp_min(0.0)


def head_widths(state: Dict[str, Tensor]) -> Tuple[int, int, int, int]:
    """The widths a DefocusHead state was trained with."""
    return (state["stem.weight"].shape[0], state["down.0.0.weight"].shape[0],
            state["down.1.0.weight"].shape[0], state["down.2.0.weight"].shape[0])


def load_head(path: str) -> Tuple[DefocusHead, str]:
    """The head of a fdikp.defocus_head run state ({'model': state_dict,
    'step': N, ...}) or a bare state_dict, in eval mode, and a line on its
    training for the metadata."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get("model", checkpoint)
    head = DefocusHead(head_widths(state))
    head.load_state_dict(state)
    head.eval()
    parameters = sum(p.numel() for p in head.parameters())
    step = checkpoint.get("step")
    training = ("fdikp.defocus_head, %d parameters, L1 on the simulator's circle-of-confusion "
                "radius%s" % (parameters, "" if step is None else ", %d steps" % int(step)))
    return head, training


def script_with_map(net: Network, head: DefocusHead) -> torch.jit.ScriptModule:
    """script_for_inference's model with the map method kept through
    freezing (freeze keeps only forward unless told)."""
    net.eval()
    head.eval()
    scripted = torch.jit.script(DeblurModelWithMap(net, head).eval())
    return torch.jit.freeze(scripted, preserved_attrs=[METHOD])


def map_metadata(training: str) -> Dict[str, Union[str, int]]:
    return {"defocus_map": 1, "defocus_map_unit": UNIT,
            "defocus_map_multiple": HEAD_MULTIPLE, "defocus_map_training": training}
