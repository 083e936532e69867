"""The module a model file holds: pad -> network (finest output) -> crop ->
clamp (fdikp.export scripts it, fdikp.map_export adds the defocus map)."""

from torch import Tensor, nn

from .network import crop, pad_to_multiple, size_multiple
from .registry import Network


class DeblurModel(nn.Module):
    """The exported model: pad -> network (finest output) -> crop -> clamp.
    """

    def __init__(self, net: Network):
        super().__init__()
        self.net = net
        # The multiple for one stage; each further stage (FDIKP) doubles it.
        self.base_multiple = net.size_multiple(1)

    def forward(self, image: Tensor, stages: int) -> Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError("expected an N x 3 x H x W image")
        if stages < 1 or stages > self.net.max_stages:
            raise ValueError("stages must be 1.." + str(self.net.max_stages)
                             + ", got " + str(stages))
        padded, height, width = pad_to_multiple(
            image, size_multiple(stages, self.base_multiple))
        restored = self.net.stage_outputs(padded, stages)[-1]
        return crop(restored, height, width).clamp(0.0, 1.0)
