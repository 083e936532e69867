"""A training run's validation (fdikp.train): its fixed synthetic crops
(fdikp.synth.validation_set) and centre crops of real pairs (dpdd1024-dev,
or the held-out fold of --real-pairs), and the val_* scores of a network
on them, with the blurry input's beside them."""

import os
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from . import metrics
from .feeding import real_pairs_dir
from .image_io import centre_crop, list_pairs, load_image
from .losses import scale_loss
from .real_pairs import held_out_names
from .synth import SynthConfig, validation_set
from .train_config import TrainConfig


class Validator:
    """The validation data of a run (built once, when first needed) and
    the scores of a network on it."""

    def __init__(self, config: TrainConfig, data: str, device: torch.device,
                 amp: Optional[torch.dtype]):
        self.config, self.data = config, data
        self.device, self.amp = device, amp
        self._validation = None

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
