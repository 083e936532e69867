"""Runs inside gimp-console (python-fu-eval) on a virtual display,
driven by test_preview.py.

Opens the deblur procedure's dialog (INTERACTIVE) on a small image of
noise with sharpen.pt, once with a rectangle selected and once without;
the plug-in's test hook (FDIKP_DEBLUR_PREVIEW_SNAPSHOT) writes its first
finished preview as the preview area shows it and cancels the dialog, and
FDIKP_DEBLUR_PREVIEW_LOG gives the view that preview shows. Then the same
procedure runs NONINTERACTIVE with the same selection. Writes, per case,
the snapshot (NAME.png), the layer's pixels before and after (raw R'G'B'
u8) and the log line into results.json in $FDIKP_SESSION_OUT."""

import json
import os
import random

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

from session_common import read, rect, run_procedure, save  # noqa: E402

OUT = os.environ["FDIKP_SESSION_OUT"]
FIXTURES = os.environ["FDIKP_FIXTURES"]
SNAPSHOT = os.environ["FDIKP_DEBLUR_PREVIEW_SNAPSHOT"]
LOG = os.environ["FDIKP_DEBLUR_PREVIEW_LOG"]
PROC = "plug-in-fdikp-deblur"
W, H = 320, 240
FORMAT = "R'G'B' u8"
MODEL = os.path.join(FIXTURES, "sharpen.pt")

results = {"width": W, "height": H, "cases": {}}


def make_image():
    image = Gimp.Image.new_with_precision(W, H, Gimp.ImageBaseType.RGB,
                                          Gimp.Precision.U8_NON_LINEAR)
    layer = Gimp.Layer.new(image, "photo", W, H, Gimp.ImageType.RGB_IMAGE, 100.0,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    rng = random.Random(7)
    buf = layer.get_buffer()
    buf.set(rect(W, H), FORMAT, bytes(rng.randrange(256) for _ in range(W * H * 3)))
    buf.flush()
    layer.update(0, 0, W, H)
    return image, layer


def open_dialog(image, layer):
    """The dialog, until the hook cancels it; the preview's log line."""
    proc = Gimp.get_pdb().lookup_procedure(PROC)
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [layer])
    cfg.set_property("model", MODEL)
    status = proc.run(cfg).index(0).value_nick
    lines = open(LOG).read().splitlines() if os.path.exists(LOG) else []
    if os.path.exists(LOG):
        os.remove(LOG)
    return status, json.loads(lines[0]) if lines else None


def case(name, selection):
    image, layer = make_image()
    if selection:
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *selection)
    before = read(layer, FORMAT)
    dialog, preview = open_dialog(image, layer)
    if os.path.exists(SNAPSHOT):
        os.replace(SNAPSHOT, os.path.join(OUT, name + ".png"))
    status, message = run_procedure(PROC, image, [layer], model=MODEL)
    save(name + ".before", before)
    save(name + ".after", read(layer, FORMAT))
    results["cases"][name] = {"dialog": dialog, "preview": preview, "status": status,
                              "message": message, "selection": selection}
    image.delete()


# The preview's bounds are the selection's and 8 pixels around it; the
# view (136 x 136) is wider than the part of it inside the selection.
case("selection", [100, 40, 120, 120])
case("whole", None)

with open(os.path.join(OUT, "results.json"), "w") as f:
    json.dump(results, f, indent=1, default=str)
