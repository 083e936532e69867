"""What the GIMP sessions (session.py, map_session.py, focus_session.py)
share. They run inside gimp-console (python-fu-eval), which finds this
module through the PYTHONPATH that gimpconsole.run_session sets."""

import os

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp  # noqa: E402

OUT = os.environ["FDIKP_SESSION_OUT"]


def rect(w, h):
    return Gegl.Rectangle.new(0, 0, w, h)


def read(drawable, fmt):
    """The whole drawable's pixels in `fmt`."""
    return bytes(drawable.get_buffer().get(rect(drawable.get_width(), drawable.get_height()),
                                           1.0, fmt, Gegl.AbyssPolicy.NONE))


def save(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def run_procedure(procedure, image, drawables, **arguments):
    """Runs the PDB procedure non-interactively; (status nick, message)."""
    proc = Gimp.get_pdb().lookup_procedure(procedure)
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", drawables)
    for name, value in arguments.items():
        cfg.set_property(name, value)
    result = proc.run(cfg)
    status = result.index(0)
    message = result.index(1) if result.length() > 1 else None
    return status.value_nick, message
