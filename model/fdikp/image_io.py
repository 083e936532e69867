"""Image files for the model's tools: reading photos and pairs, writing
contact sheets. Shared by evaluate, contact_sheet, train and the device
scripts, so that none of them imports another for its I/O."""

import os
from typing import List, Optional, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
LABEL_HEIGHT = 18
GRID_GAP = 4  # pixels between grid()'s images


def load_image(path: str) -> Tensor:
    """3 x H x W float32 in [0, 1]; 16-bit sources keep their precision."""
    with Image.open(path) as image:
        if image.mode in ("I;16", "I;16B", "I"):
            array = np.asarray(image, dtype=np.float32) / 65535.0
            return torch.from_numpy(array)[None].expand(3, -1, -1).clone()
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def list_pairs(pairs_dir: str) -> List[str]:
    """Names present in both blur/ and sharp/, sorted."""
    def names(sub):
        folder = os.path.join(pairs_dir, sub)
        if not os.path.isdir(folder):
            raise FileNotFoundError("missing folder " + folder)
        return {n for n in os.listdir(folder)
                if n.lower().endswith(IMAGE_EXTENSIONS)}
    common = sorted(names("blur") & names("sharp"))
    if not common:
        raise FileNotFoundError("no matching pairs in " + pairs_dir)
    return common


def centre_crop(image: Tensor, side: Optional[int]) -> Tensor:
    if not side:
        return image
    height, width = image.shape[-2:]
    top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
    return image[..., top:top + side, left:left + side]


def to_pil(image: Tensor) -> Image.Image:
    array = (image.clamp(0, 1) * 255.0).round().byte().permute(1, 2, 0)
    return Image.fromarray(array.cpu().numpy())


def grid(rows: Sequence[Sequence[Tensor]], labels: Sequence[str],
         gap: int = GRID_GAP) -> Image.Image:
    """Tile equally sized 3 x h x w images, one label per column."""
    height, width = rows[0][0].shape[-2:]
    columns = len(rows[0])
    sheet = Image.new("RGB", (columns * (width + gap) - gap,
                              LABEL_HEIGHT + len(rows) * (height + gap)),
                      (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(labels):
        draw.text((c * (width + gap) + 4, 3), label, fill=(230, 230, 230))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            sheet.paste(to_pil(image), (c * (width + gap),
                                        LABEL_HEIGHT + r * (height + gap)))
    return sheet
