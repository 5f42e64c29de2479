"""The app and the background service (issue 13 §1): one engine per database — while the service holds the
engine lease the window runs no jobs and says "Engine: running in the background since …", and takes over
when the service stops or dies; Settings → "Keep journeys running when Journey Studio is closed" installs
and removes the service; closing with active journeys and no service asks once, and remembers."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from PySide6.QtWidgets import QCheckBox, QMessageBox, QPushButton

from app.engine.engine import JourneyEngine
from app.service.install import UNIT_NAME
from app.store.lease import Lease, current_holder
from app.ui.background_service import SETTING_TEXT, BackgroundService
from app.ui.engine_host import EngineHost
from app.ui.main_window import MainWindow


@pytest.fixture(autouse=True)
def quick_lease(monkeypatch):
    """The window's lease lasts 1.5 s and beats every 0.1 s (the defaults: 30 s and 10 s)."""
    monkeypatch.setattr(EngineHost, "LEASE_SECONDS", 1.5)
    monkeypatch.setattr(EngineHost, "HEARTBEAT_SECONDS", 0.1)


@pytest.fixture
def systemctl(tmp_path, monkeypatch):
    """A stand-in `systemctl` recording its calls; the unit goes under tmp_path."""
    calls = tmp_path / "systemctl-calls"
    script = tmp_path / "systemctl"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n"
                      "case \"$2\" in is-active) echo active;; is-enabled) echo enabled;; esac\n")
    script.chmod(0o755)
    monkeypatch.setenv("JOURNEYS_SYSTEMCTL", str(script))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr("app.ui.background_service.platform_key", lambda choice=None: "linux")
    return calls


def unit(tmp_path):
    return tmp_path / "config" / "systemd" / "user" / UNIT_NAME


def test_while_the_service_runs_the_engine_the_window_runs_none_and_says_so(window, qtbot):
    db = window.store.engine
    service = Lease(db, "service", ttl=30)
    assert service.acquire()
    window.start_engine()
    label = window.engine_status
    qtbot.waitUntil(label.isVisible, timeout=10_000)
    assert label.text().startswith("Engine: running in the background since ")
    assert label.text().endswith(" ago)")
    assert window.host.live is None and not window.host.runs_engine()
    assert current_holder(db).kind == "service"
    service.release()                                     # the service stops cleanly: the window takes over
    qtbot.waitUntil(lambda: window.host.live is not None, timeout=10_000)
    qtbot.waitUntil(lambda: not label.isVisible(), timeout=5_000)     # engine_here reaches the GUI thread queued
    assert current_holder(db).kind == "app"


def test_the_window_takes_over_from_a_service_that_died_only_once_its_lease_expired(window, qtbot):
    db = window.store.engine
    service = Lease(db, "service", ttl=1.0)
    assert service.acquire()                              # …and then never beats again (kill -9)
    window.start_engine()
    qtbot.waitUntil(window.engine_status.isVisible, timeout=10_000)
    qtbot.waitUntil(lambda: window.host.live is not None, timeout=10_000)
    assert datetime.now(timezone.utc) >= service.valid_until    # not before the lease ran out
    qtbot.waitUntil(lambda: not window.engine_status.isVisible(), timeout=5_000)


def test_a_second_window_on_the_same_database_runs_no_second_engine(window, qtbot, store):
    window.start_engine()
    qtbot.waitUntil(lambda: window.host.live is not None, timeout=10_000)
    other = MainWindow(store)
    qtbot.addWidget(other)
    other.show()
    other.start_engine()
    qtbot.waitUntil(other.engine_status.isVisible, timeout=10_000)
    assert "another Journey Studio window" in other.engine_status.text() and other.host.live is None
    window.close()                                        # the first closes: the second takes over
    qtbot.waitUntil(lambda: other.host.live is not None, timeout=10_000)
    other.close()


def test_the_setting_installs_and_removes_the_service(window, qtbot, systemctl, tmp_path):
    dialog = window.open_settings()
    box = dialog.findChild(QCheckBox)
    assert box.text() == SETTING_TEXT and not box.isChecked()
    box.setChecked(True)
    dialog.save()
    qtbot.waitUntil(lambda: unit(tmp_path).exists() and "enable" in systemctl.read_text(), timeout=10_000)
    qtbot.waitUntil(lambda: "keep running in the background" in window.statusBar().currentMessage(), timeout=10_000)
    assert f"serve --db sqlite:///{window.store.engine.url.database}" in unit(tmp_path).read_text()
    dialog = window.open_settings()
    box = dialog.findChild(QCheckBox)
    assert box.isChecked()
    qtbot.waitUntil(dialog.service_state.isVisible, timeout=10_000)       # asked off the GUI thread
    assert dialog.service_state.text() == "The service is running (active, enabled at login)."
    box.setChecked(False)
    dialog.save()
    qtbot.waitUntil(lambda: not unit(tmp_path).exists(), timeout=10_000)
    assert "disable --now" in systemctl.read_text()


def test_a_refusing_service_manager_is_said_in_the_status_bar(window, qtbot, systemctl, tmp_path):
    systemctl.parent.joinpath("systemctl").write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
    dialog = window.open_settings()
    dialog.findChild(QCheckBox).setChecked(True)
    dialog.save()
    qtbot.waitUntil(lambda: "could not be installed" in window.statusBar().currentMessage(), timeout=10_000)
    assert "Failed to connect to bus" in window.statusBar().currentMessage()
    assert not unit(tmp_path).exists()                    # half installed is not installed


def _activate(window) -> None:
    JourneyEngine(window.store.engine).activate(window.store.find("Cart abandonment").id)


def _question(window) -> QMessageBox:
    return window.keep_running_box


def test_closing_with_active_journeys_asks_once_and_keep_running_installs_the_service(window, qtbot, systemctl,
                                                                                       tmp_path, store):
    _activate(window)
    window.start_engine()
    qtbot.waitUntil(window.host.runs_engine, timeout=10_000)
    window.close()
    box = _question(window)
    assert box.isVisible() and window.isVisible()              # the window waits for the answer
    assert box.text() == "Keep your journeys running after Journey Studio closes?"
    assert box.informativeText().startswith("1 journey is running.")
    keep = next(b for b in box.findChildren(QPushButton) if b.text() == "Keep running in the background")
    keep.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert unit(tmp_path).exists()
    assert BackgroundService(store.engine).asked() == "yes"
    assert current_holder(store.engine) is None                  # the lease is given back: the service takes over


def test_only_while_open_closes_at_once_and_is_never_asked_again(window, qtbot, systemctl, tmp_path, store):
    _activate(window)
    window.start_engine()
    qtbot.waitUntil(window.host.runs_engine, timeout=10_000)
    window.close()
    no = next(b for b in _question(window).findChildren(QPushButton) if b.text() == "Only while the app is open")
    no.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert not unit(tmp_path).exists() and not systemctl.exists()
    again = MainWindow(store)
    qtbot.addWidget(again)
    again.show()
    again.start_engine()
    qtbot.waitUntil(again.host.runs_engine, timeout=10_000)
    again.close()
    assert not again.isVisible() and getattr(again, "keep_running_box", None) is None
    assert BackgroundService(store.engine).asked() == "no"


@pytest.mark.parametrize("case", ["no active journey", "service installed", "engine elsewhere"])
def test_no_question_when_there_is_nothing_to_keep_running(window, qtbot, systemctl, tmp_path, case):
    if case != "no active journey":
        _activate(window)
    if case == "service installed":
        unit(tmp_path).parent.mkdir(parents=True)
        unit(tmp_path).write_text("[Unit]\n")
    if case == "engine elsewhere":
        assert Lease(window.store.engine, "service", ttl=30).acquire()
        window.start_engine()
        qtbot.waitUntil(window.engine_status.isVisible, timeout=10_000)
    else:
        window.start_engine()
        qtbot.waitUntil(window.host.runs_engine, timeout=10_000)
    window.close()
    assert not window.isVisible() and getattr(window, "keep_running_box", None) is None
    assert BackgroundService(window.store.engine).asked() is None


def test_when_keeping_them_running_fails_the_window_stays_open_and_says_why(window, qtbot, systemctl, tmp_path):
    systemctl.parent.joinpath("systemctl").write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
    _activate(window)
    window.start_engine()
    qtbot.waitUntil(window.host.runs_engine, timeout=10_000)
    window.close()
    keep = next(b for b in _question(window).findChildren(QPushButton) if b.text() == "Keep running in the background")
    keep.click()
    service = window.background_service
    qtbot.waitUntil(lambda: service.failure_box is not None and service.failure_box.isVisible(), timeout=10_000)
    assert "Failed to connect to bus" in service.failure_box.text()
    assert window.isVisible() and window.host.runs_engine()      # still open, still running the journeys
    service.failure_box.close()
    window.close()                                               # asked once: now it simply closes
    assert not window.isVisible()
