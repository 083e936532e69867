"""Runs inside gimp-console (python-fu-eval), driven by test_map.py.

Runs the PDB procedure plug-in-fdikp-defocus-map with fixture models on a
small image (a background and a smaller, offset "photo" layer above it) and
records what a user would see: status, message, the layers and their
places, the photo's pixels before and after, the map layer's or mask's
values. Writes results.json and raw float pixels to $FDIKP_SESSION_OUT."""

import array
import json
import os
import random

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

from session_common import read, rect, run_procedure, save  # noqa: E402

OUT = os.environ["FDIKP_SESSION_OUT"]
FIXTURES = os.environ["FDIKP_FIXTURES"]
PROC = "plug-in-fdikp-defocus-map"
IMAGE_W, IMAGE_H = 40, 32
# The photo: sides that are multiples of map-local.pt's 4, off the origin.
X, Y, W, H = 4, 2, 32, 24
PHOTO_FORMAT = "R'G'B'A float"
MAX_RADIUS = 2.5

results = {"cases": {}}
pdb = Gimp.get_pdb()


def make_image(seed, with_mask=False):
    image = Gimp.Image.new_with_precision(IMAGE_W, IMAGE_H, Gimp.ImageBaseType.RGB,
                                          Gimp.Precision.U8_NON_LINEAR)
    background = Gimp.Layer.new(image, "background", IMAGE_W, IMAGE_H,
                                Gimp.ImageType.RGB_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(background, None, 0)
    background.fill(Gimp.FillType.WHITE)
    photo = Gimp.Layer.new(image, "photo", W, H, Gimp.ImageType.RGBA_IMAGE, 100.0,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(photo, None, 0)
    photo.set_offsets(X, Y)
    # Full-range noise, opaque: map-local.pt's radii then span 0 to about
    # 5 px, below and above MAX_RADIUS.
    rng = random.Random(seed)
    values = []
    for _ in range(W * H):
        values += [rng.random() for _ in range(3)] + [1.0]
    buf = photo.get_buffer()
    buf.set(rect(W, H), PHOTO_FORMAT, array.array("f", values).tobytes())
    buf.flush()
    photo.update(0, 0, W, H)
    if with_mask:
        photo.add_mask(photo.create_mask(Gimp.AddMaskType.WHITE))
    image.clean_all()
    return image, photo


def layer_list(image):
    return [{"name": layer.get_name(), "offsets": list(layer.get_offsets()[1:]),
             "width": layer.get_width(), "height": layer.get_height(),
             "has_mask": layer.get_mask() is not None}
            for layer in image.get_layers()]


def case(name, model, seed=1, with_mask=False, **arguments):
    image, photo = make_image(seed, with_mask)
    layers_before = layer_list(image)
    before = read(photo, PHOTO_FORMAT)
    status, message = run_procedure(PROC, image, [photo], model=model, **arguments)
    save(name + ".before", before)
    save(name + ".after", read(photo, PHOTO_FORMAT))
    info = {"status": status, "message": message, "model": model, "dirty": image.is_dirty(),
            "layers_before": layers_before, "layers_after": layer_list(image),
            "width": W, "height": H}
    top = image.get_layers()[0]
    if top.get_name() != "photo":
        # The map layer: grey, so its three channels are read as they are.
        save(name + ".layer", read(top, "R'G'B' float"))
        info["layer_kind"] = {"rgb": top.is_rgb(), "alpha": top.has_alpha()}
    mask = photo.get_mask()
    if mask is not None:
        # A mask is linear: its value is the opacity.
        save(name + ".mask", read(mask, "Y float"))
    results["cases"][name] = info
    image.delete()


model = os.path.join(FIXTURES, "map-local.pt")
case("layer", model, **{"max-radius": MAX_RADIUS})
case("mask", model, output="mask", **{"max-radius": MAX_RADIUS})
case("mask-replaced", model, with_mask=True, output="mask", **{"max-radius": MAX_RADIUS})
case("default-radius", model)
for output in ("layer", "mask"):
    case("no-map-" + output, os.path.join(FIXTURES, "identity.pt"), output=output)

signature = {}
for spec in pdb.lookup_procedure(PROC).get_arguments():
    entry = {"type": spec.value_type.name}
    default = spec.get_default_value()
    entry["default"] = default if isinstance(default, (int, float, str)) else None
    for bound in ("minimum", "maximum"):
        if hasattr(spec, bound):
            entry[bound] = getattr(spec, bound)
    if spec.__gtype__.name == "GimpParamChoice":
        choice = Gimp.param_spec_choice_get_choice(spec)
        entry["choices"] = choice.list_nicks()
    signature[spec.name] = entry
results["signature"] = signature
results["max_radius"] = MAX_RADIUS
results["offsets"] = [X, Y]

with open(os.path.join(OUT, "results.json"), "w") as f:
    json.dump(results, f, indent=1, default=str)
