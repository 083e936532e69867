"""Runs inside gimp-console (python-fu-eval), driven by test_procedure.py.

Makes small images of every kind the filter accepts, runs the PDB procedure
on them and records what a user would see: status, message, pixels before
and after, the selection, whether the image became dirty. Writes
results.json and raw float pixels to $FDIKP_SESSION_OUT."""

import json
import os
import random

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp  # noqa: E402

from session_common import run_procedure, save  # noqa: E402

OUT = os.environ["FDIKP_SESSION_OUT"]
FIXTURES = os.environ["FDIKP_FIXTURES"]
PROC = "plug-in-fdikp-deblur"
OP = "fdikp:defocus-deblur"
W, H = 40, 30
# Selection: the filter may change only these pixels.
SEL = (6, 5, 22, 17)

KINDS = {
    "rgb": (Gimp.ImageBaseType.RGB, Gimp.ImageType.RGB_IMAGE, "R'G'B'A float"),
    "rgba": (Gimp.ImageBaseType.RGB, Gimp.ImageType.RGBA_IMAGE, "R'G'B'A float"),
    "gray": (Gimp.ImageBaseType.GRAY, Gimp.ImageType.GRAY_IMAGE, "Y'A float"),
    "graya": (Gimp.ImageBaseType.GRAY, Gimp.ImageType.GRAYA_IMAGE, "Y'A float"),
}
PRECISIONS = {
    "u8": Gimp.Precision.U8_NON_LINEAR,
    "u16": Gimp.Precision.U16_NON_LINEAR,
    "float": Gimp.Precision.FLOAT_LINEAR,
}

results = {"cases": {}}
pdb = Gimp.get_pdb()


def rect():
    return Gegl.Rectangle.new(0, 0, W, H)


def make_image(kind, precision, seed):
    base, layer_type, fmt = KINDS[kind]
    image = Gimp.Image.new_with_precision(W, H, base, PRECISIONS[precision])
    layer = Gimp.Layer.new(image, "photo", W, H, layer_type, 100.0,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    # Low contrast around mid-grey: a 3x3 sharpen of it stays inside [0, 1],
    # so no clipping hides a difference.
    rng = random.Random(seed)
    channels = 4 if fmt.startswith("R") else 2
    values = []
    for _ in range(W * H):
        colour = [0.45 + 0.1 * rng.random() for _ in range(channels - 1)]
        values += colour + [0.3 + 0.7 * rng.random()]
    buf = layer.get_buffer()
    buf.set(rect(), fmt, floats(values))
    buf.flush()
    layer.update(0, 0, W, H)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, *SEL)
    image.clean_all()
    return image, layer, fmt


def floats(values):
    import array
    return array.array("f", values).tobytes()


def pixels(layer, fmt):
    return bytes(layer.get_buffer().get(rect(), 1.0, fmt, Gegl.AbyssPolicy.NONE))


def case(name, kind, precision, model, seed=1, **arguments):
    image, layer, fmt = make_image(kind, precision, seed)
    before = pixels(layer, fmt)
    status, message = run_procedure(PROC, image, [layer], model=model, **arguments)
    after = pixels(layer, fmt)
    save(name + ".before", before)
    save(name + ".after", after)
    results["cases"][name] = {
        "kind": kind, "precision": precision, "format": fmt, "width": W, "height": H,
        "selection": SEL, "status": status, "message": message,
        "dirty": image.is_dirty(),
    }
    image.delete()


for kind in KINDS:
    for precision in PRECISIONS:
        case("sharpen-%s-%s" % (kind, precision), kind, precision,
             os.path.join(FIXTURES, "sharpen.pt"))

# Installed models chosen by name and by title (FDIKP_MODEL_PATH is the
# fixture model folder): the same pixels as the file.
case("by-name", "rgba", "u8", "test-sharpen")
case("by-title", "rgba", "u8", "Test Sharpen")

for name, model in (("missing", "/nonexistent/folder/model.pt"),
                    ("not-a-model", os.path.join(FIXTURES, "random.pt")),
                    ("throws", os.path.join(FIXTURES, "throws.pt")),
                    ("unknown-name", "sharpest")):
    case("error-" + name, "rgba", "u8", model)
    results["cases"]["error-" + name]["model"] = model

# The same settings through the op applied as a GIMP drawable filter (what a
# script gets with Gimp.DrawableFilter, in GIMP's core): both routes must give
# the same pixels.
image, layer, fmt = make_image("rgba", "u8", 7)
status, message = run_procedure(PROC, image, [layer], model=os.path.join(FIXTURES, "sharpen.pt"),
                                stages=2, **{"tile-size": 16, "tile-overlap": 4})
via_plugin = pixels(layer, fmt)
image.delete()
image, layer, fmt = make_image("rgba", "u8", 7)
live = Gimp.DrawableFilter.new(layer, OP, "live")
if live is not None:
    live_cfg = live.get_config()
    live_cfg.set_property("model", os.path.join(FIXTURES, "sharpen.pt"))
    live_cfg.set_property("stages", 2)
    live_cfg.set_property("tile-size", 16)
    live_cfg.set_property("tile-overlap", 4)
    live.update()
    layer.merge_filter(live)
via_op = pixels(layer, fmt)
image.delete()
save("agree.plugin", via_plugin)
save("agree.op", via_op)
results["agree"] = {"status": status, "message": message, "filter_created": live is not None,
                    "format": fmt, "width": W, "height": H}

# Two layers at once: one undo group; both change inside the selection.
image, layer, fmt = make_image("rgb", "u8", 3)
second = Gimp.Layer.new(image, "second", W, H, Gimp.ImageType.RGBA_IMAGE, 100.0,
                        Gimp.LayerMode.NORMAL)
image.insert_layer(second, None, 0)
second.fill(Gimp.FillType.WHITE)
image.clean_all()
status, message = run_procedure(PROC, image, [layer, second],
                                model=os.path.join(FIXTURES, "sharpen.pt"))
results["two-layers"] = {"status": status, "message": message, "dirty": image.is_dirty()}
image.delete()

# The PDB signature against the op's properties: same names, defaults, ranges.
Gegl.init(None)
signature = {}
for spec in pdb.lookup_procedure(PROC).get_arguments():
    entry = {"type": spec.value_type.name, "nick": spec.get_nick(), "blurb": spec.get_blurb()}
    default = spec.get_default_value()
    entry["default"] = default if isinstance(default, (int, float, str)) else None
    for bound in ("minimum", "maximum"):
        if hasattr(spec, bound):
            entry[bound] = getattr(spec, bound)
    if spec.__gtype__.name == "GimpParamChoice":
        choice = Gimp.param_spec_choice_get_choice(spec)
        entry["choices"] = {nick: choice.get_id(nick) for nick in choice.list_nicks()}
    signature[spec.name] = entry
results["signature"] = signature
op_props = {}
for spec in Gegl.Operation.list_properties(OP):
    name = spec.name
    entry = {"type": spec.value_type.name, "nick": spec.get_nick(), "blurb": spec.get_blurb()}
    default = spec.get_default_value()
    if spec.value_type.is_a(gi.repository.GObject.TYPE_ENUM):
        entry["default"] = default.value_nick
        # nick -> value of every enum value, to compare with the choice's ids
        entry["choices"] = {v.value_nick: int(v) for v in type(default).__enum_values__.values()}
    else:
        entry["default"] = default
    for bound in ("minimum", "maximum"):
        if hasattr(spec, bound):
            entry[bound] = getattr(spec, bound)
    op_props[name] = entry
results["op_properties"] = op_props

with open(os.path.join(OUT, "results.json"), "w") as f:
    json.dump(results, f, indent=1, default=str)
