"""Runs inside gimp-console (python-fu-eval), driven by test_focus.py.

Runs the PDB procedure plug-in-fdikp-deblur with "Only where out of focus"
(only-out-of-focus, focus-threshold, focus-feather) on a small image (a
background and a smaller, offset "photo" layer of noise above it) with
fixture models, and records the status, message, whether the image became
dirty, and the photo's pixels before and after. Writes results.json and raw
float pixels to $FDIKP_SESSION_OUT."""

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
PROC = "plug-in-fdikp-deblur"
IMAGE_W, IMAGE_H = 40, 32
# The photo: sides that are multiples of the map fixtures' 4, off the origin.
X, Y, W, H = 4, 2, 32, 24
PHOTO_FORMAT = "R'G'B'A float"
THRESHOLD, FEATHER = 2.0, 1.0

results = {"cases": {}}
pdb = Gimp.get_pdb()


def make_image(seed, w=W, h=H):
    image = Gimp.Image.new_with_precision(w + IMAGE_W - W, h + IMAGE_H - H,
                                          Gimp.ImageBaseType.RGB, Gimp.Precision.U8_NON_LINEAR)
    background = Gimp.Layer.new(image, "background", image.get_width(), image.get_height(),
                                Gimp.ImageType.RGB_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(background, None, 0)
    background.fill(Gimp.FillType.WHITE)
    photo = Gimp.Layer.new(image, "photo", w, h, Gimp.ImageType.RGBA_IMAGE, 100.0,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(photo, None, 0)
    photo.set_offsets(X, Y)
    # Full-range noise with varied alpha: the map's radii span 0 to about
    # 5 px, below and above the threshold.
    rng = random.Random(seed)
    values = []
    for _ in range(w * h):
        values += [rng.random() for _ in range(3)] + [0.25 + 0.75 * rng.random()]
    buf = photo.get_buffer()
    buf.set(rect(w, h), PHOTO_FORMAT, array.array("f", values).tobytes())
    buf.flush()
    photo.update(0, 0, w, h)
    image.clean_all()
    return image, photo


def case(name, model, w=W, h=H, **arguments):
    image, photo = make_image(1, w, h)
    before = read(photo, PHOTO_FORMAT)
    status, message = run_procedure(PROC, image, [photo], model=model, **arguments)
    save(name + ".before", before)
    save(name + ".after", read(photo, PHOTO_FORMAT))
    results["cases"][name] = {"status": status, "message": message, "model": model,
                              "dirty": image.is_dirty(), "width": w, "height": h}
    image.delete()


focus = {"only-out-of-focus": True, "focus-threshold": THRESHOLD, "focus-feather": FEATHER}
sharpen_map = os.path.join(FIXTURES, "map-sharpen.pt")
case("plain", sharpen_map)
case("off", sharpen_map, **dict(focus, **{"only-out-of-focus": False}))
case("blend", sharpen_map, **focus)
case("hard", sharpen_map, **dict(focus, **{"focus-feather": 0.0}))
case("no-map", os.path.join(FIXTURES, "sharpen.pt"), **focus)
# No map, and a forward that fails on tiles above 64 px (after passing the
# engine's probe): on a photo that large the deblur fails (off), but with
# the option on the map is computed, and fails, first.
throws_large = os.path.join(FIXTURES, "throws-large.pt")
case("large-off", throws_large, w=96, h=80)
case("no-map-large", throws_large, w=96, h=80, **focus)

signature = {}
for spec in pdb.lookup_procedure(PROC).get_arguments():
    entry = {"type": spec.value_type.name}
    default = spec.get_default_value()
    entry["default"] = default if isinstance(default, (bool, int, float, str)) else None
    for bound in ("minimum", "maximum"):
        if hasattr(spec, bound):
            entry[bound] = getattr(spec, bound)
    signature[spec.name] = entry
results["signature"] = signature
results["threshold"] = THRESHOLD
results["feather"] = FEATHER

with open(os.path.join(OUT, "results.json"), "w") as f:
    json.dump(results, f, indent=1, default=str)
