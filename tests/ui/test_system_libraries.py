"""Starting the window on a machine that lacks Qt's system libraries names the packages to install."""
from __future__ import annotations

import subprocess
import sys

import pytest

from app.ui.system_libraries import (QT_LIBRARIES, XCB_LIBRARIES, install_hint, missing_for_window,
                                     missing_libraries, uses_xcb)


def test_a_library_the_loader_cannot_find_is_reported_and_a_present_one_is_not():
    assert missing_libraries(["libc.so.6", "libjourneys-nothing-here.so.0"]) == ["libjourneys-nothing-here.so.0"]


def test_the_hint_names_each_package_once_with_one_install_command():
    text = install_hint({"libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4"})
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4" in text
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4\n" in text


def test_xcb_libraries_matter_only_when_qt_will_use_x11():
    assert uses_xcb({"DISPLAY": ":0"}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not uses_xcb({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not uses_xcb({}, "darwin") and missing_for_window({}, "win32") == {}
    assert set(missing_for_window({"QT_QPA_PLATFORM": "offscreen"}, "linux")) <= set(QT_LIBRARIES)
    assert "libxcb-cursor.so.0" in XCB_LIBRARIES and XCB_LIBRARIES["libxcb-cursor.so.0"] == "libxcb-cursor0"


def test_the_app_says_which_packages_are_missing_instead_of_aborting(tmp_path):
    """On this machine: whatever it lacks for X11, `main.py` says so with exit code 3."""
    missing = missing_for_window({"QT_QPA_PLATFORM": "xcb"}, sys.platform)
    if not missing:
        pytest.skip("this machine has every library a window needs")
    env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":97", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "JOURNEYS_DB": str(tmp_path / "j.sqlite3")}
    done = subprocess.run([sys.executable, "main.py"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "sudo apt install " + " ".join(dict.fromkeys(missing.values())) in done.stderr
    assert "Traceback" not in done.stderr
