"""Which system libraries Qt needs to open a window, and which of them this machine lacks.

Without them Qt prints a generic "could not load the Qt platform plugin" and
aborts; the app checks first and names the Debian/Ubuntu packages to install.
No Qt import here: this runs before Qt is loaded.
"""
from __future__ import annotations

import ctypes
import os
import sys
from typing import Iterable

# Shared objects → the Debian/Ubuntu package that ships each. Qt's own libraries
# (PySide6-Essentials wheels) link the first group; the xcb platform plugin the second
# (from Qt 6.5 it also needs libxcb-cursor0). Found with `ldd` on PySide6 6.11's
# libQt6Gui.so.6, libQt6XcbQpa.so.6 and plugins/platforms/libqxcb.so.
QT_LIBRARIES: dict[str, str] = {
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libxkbcommon.so.0": "libxkbcommon0",
}
XCB_LIBRARIES: dict[str, str] = {
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def missing_libraries(libraries: Iterable[str]) -> list[str]:
    """The shared objects among `libraries` (sonames such as "libxcb-cursor.so.0") that the
    dynamic loader cannot load here, in the order given."""
    missing = []
    for soname in libraries:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def uses_xcb(environ: dict[str, str] | os._Environ[str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will pick its X11 (xcb) plugin: on Linux, unless told otherwise or in a Wayland session."""
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def missing_for_window(environ: dict[str, str] | os._Environ[str] = os.environ,
                       platform: str = sys.platform) -> dict[str, str]:
    """The libraries this machine lacks to open Journey Studio's window: soname → package.
    Empty off Linux, where the wheels bring what they need."""
    if not platform.startswith("linux"):
        return {}
    wanted = dict(QT_LIBRARIES)
    if uses_xcb(environ, platform):
        wanted.update(XCB_LIBRARIES)
    return {soname: wanted[soname] for soname in missing_libraries(wanted)}


def install_hint(missing: dict[str, str]) -> str:
    """A message naming what is missing and the one command that installs it."""
    names = ", ".join(missing)
    packages = " ".join(dict.fromkeys(missing.values()))
    return (f"Journey Studio cannot open its window: this system lacks {names}.\n"
            f"On Debian or Ubuntu, install them with:\n    sudo apt install {packages}\n"
            f"(Other systems: install the packages that provide these libraries. "
            f"Headless use needs none of them: see the `journeys` command.)")
