"""Asks GIMP's action search for an entry, as a user does: clicks the
canvas of the GIMP window under Xvfb ($DISPLAY) so that it has the
keyboard, presses "/" and types the words given, then Return. XTest only:
no window manager or xdotool needed (plugin/screenshot-dialog).

    python3 type-into-gimp.py defocus
"""

import ctypes
import ctypes.util
import sys
import time

x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
xtst = ctypes.CDLL(ctypes.util.find_library("Xtst"))
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XStringToKeysym.restype = ctypes.c_ulong
x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
x11.XKeysymToKeycode.restype = ctypes.c_ubyte
x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
x11.XKeycodeToKeysym.restype = ctypes.c_ulong
x11.XKeycodeToKeysym.argtypes = [ctypes.c_void_p, ctypes.c_ubyte, ctypes.c_int]
x11.XFlush.argtypes = [ctypes.c_void_p]
xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_ulong]
xtst.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]

x11.XDefaultRootWindow.restype = ctypes.c_ulong
x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x11.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                           ctypes.POINTER(ctypes.c_ulong),
                           ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                           ctypes.POINTER(ctypes.c_uint)]
x11.XSetInputFocus.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong]


class WindowAttributes(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int),
                ("height", ctypes.c_int), ("border_width", ctypes.c_int), ("depth", ctypes.c_int),
                ("visual", ctypes.c_void_p), ("root", ctypes.c_ulong), ("class_", ctypes.c_int),
                ("bit_gravity", ctypes.c_int), ("win_gravity", ctypes.c_int),
                ("backing_store", ctypes.c_int), ("backing_planes", ctypes.c_ulong),
                ("backing_pixel", ctypes.c_ulong), ("save_under", ctypes.c_int),
                ("colormap", ctypes.c_ulong), ("map_installed", ctypes.c_int),
                ("map_state", ctypes.c_int), ("all_event_masks", ctypes.c_long),
                ("your_event_mask", ctypes.c_long), ("do_not_propagate_mask", ctypes.c_long),
                ("override_redirect", ctypes.c_int), ("screen", ctypes.c_void_p)]


x11.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong,
                                     ctypes.POINTER(WindowAttributes)]

display = x11.XOpenDisplay(None)
NAMES = {" ": "space", "(": "parenleft", ")": "parenright", "/": "slash", "\n": "Return"}


def click(x, y, button=1):
    xtst.XTestFakeMotionEvent(display, -1, x, y, 0)
    xtst.XTestFakeButtonEvent(display, button, 1, 0)
    xtst.XTestFakeButtonEvent(display, button, 0, 0)
    x11.XFlush(display)
    time.sleep(1)


def smallest_window():
    """The smallest viewable top-level window (the newest popup), as
    (window, attributes)."""
    root = x11.XDefaultRootWindow(display)
    root_return, parent = ctypes.c_ulong(), ctypes.c_ulong()
    children, count = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
    x11.XQueryTree(display, root, ctypes.byref(root_return), ctypes.byref(parent),
                   ctypes.byref(children), ctypes.byref(count))
    found = []
    for i in range(count.value):
        attributes = WindowAttributes()
        x11.XGetWindowAttributes(display, children[i], ctypes.byref(attributes))
        if attributes.map_state == 2 and attributes.width > 1:
            found.append((attributes.width * attributes.height, children[i], attributes))
    return min(found, key=lambda f: f[0])[1:]


def key(char):
    """Presses the key that types char, with Shift where the layout needs it."""
    sym = x11.XStringToKeysym(NAMES.get(char, char).encode())
    code = x11.XKeysymToKeycode(display, sym)
    shift = x11.XKeysymToKeycode(display, x11.XStringToKeysym(b"Shift_L"))
    shifted = x11.XKeycodeToKeysym(display, code, 0) != sym
    if shifted:
        xtst.XTestFakeKeyEvent(display, shift, 1, 0)
    xtst.XTestFakeKeyEvent(display, code, 1, 0)
    xtst.XTestFakeKeyEvent(display, code, 0, 0)
    if shifted:
        xtst.XTestFakeKeyEvent(display, shift, 0, 0)
    x11.XFlush(display)
    time.sleep(0.08)


# A middle click on the canvas (it changes nothing) gives the window the keyboard.
click(400, 400, button=2)
key("/")
time.sleep(2)
# Without a window manager the search popup does not take the keyboard:
# give it, and click into its entry.
popup, where = smallest_window()
x11.XSetInputFocus(display, popup, 2, 0)
click(where.x + where.width // 2, where.y + min(where.height, 40) // 2)
for char in sys.argv[1]:
    key(char)
time.sleep(2)
key("\n")
