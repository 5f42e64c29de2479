"""`journeys service install|uninstall|status` (app/service/install.py): the systemd user unit, the
launchd agent and the Task Scheduler task as text, the commands each would run (an injected runner, or a
recording stand-in for `systemctl` through $JOURNEYS_SYSTEMCTL), and — when this machine has a working
`systemctl --user` — the real thing."""
from __future__ import annotations

import os
import plistlib
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from app.service.install import (LAUNCHD_LABEL, TASK_NAME, TASK_XMLNS, UNIT_NAME, ServiceError, install,
                                 launchd_plan, plan_for, schtasks_plan, serve_argv, status, systemd_plan,
                                 systemd_unit, uninstall)

ROOT = Path(__file__).resolve().parents[2]
ARGV = ["/opt/journey studio/bin/journeys", "serve", "--db", "postgresql+psycopg://shop:p%40ss$word@db/journeys",
        "--listen", "127.0.0.1:8765"]


class Runner:
    """Records the commands and answers each with (code, output) from `answers` (by a word in the command)."""

    def __init__(self, answers: dict[str, tuple[int, str]] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv: list[str]) -> tuple[int, str]:
        self.calls.append(argv)
        for word, answer in self.answers.items():
            if word in argv:
                return answer
        return 0, ""


def _unit_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_the_systemd_unit_restarts_on_failure_starts_at_login_and_quotes_what_systemd_would_expand():
    values = _unit_values(systemd_unit(ARGV, Path("/srv/shop")))
    assert values["Restart"] == "on-failure" and values["WantedBy"] == "default.target"
    assert values["Type"] == "simple" and values["KillSignal"] == "SIGTERM"
    # A space quotes the argument; % (a specifier) and $ (a variable) are doubled, so systemd passes them as written.
    assert values["ExecStart"] == ('"/opt/journey studio/bin/journeys" serve --db '
                                   'postgresql+psycopg://shop:p%%40ss$$word@db/journeys --listen 127.0.0.1:8765')
    assert values["WorkingDirectory"] == "/srv/shop"


def test_install_writes_the_unit_privately_then_reloads_and_enables_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("JOURNEYS_SYSTEMCTL", raising=False)
    plan = systemd_plan(ARGV)
    assert plan.path == tmp_path / "config" / "systemd" / "user" / UNIT_NAME
    run = Runner()
    install(plan, run)
    assert run.calls == [["systemctl", "--user", "daemon-reload"],
                         ["systemctl", "--user", "enable", UNIT_NAME], ["systemctl", "--user", "restart", UNIT_NAME]]
    assert plan.path.read_text() == systemd_unit(ARGV)
    assert stat.S_IMODE(plan.path.stat().st_mode) == 0o600          # it holds the database URL
    run = Runner({"is-active": (0, "active"), "is-enabled": (0, "enabled")})
    state = status(plan, run)
    assert (state.installed, state.running, state.said) == (True, True, "active, enabled at login")
    run = Runner()
    assert uninstall(plan, run)
    assert run.calls == [["systemctl", "--user", "disable", "--now", UNIT_NAME],
                         ["systemctl", "--user", "daemon-reload"]]
    assert not plan.path.exists()
    assert not uninstall(plan, Runner())                            # not installed: nothing to do
    assert status(plan, Runner()).installed is False


def test_a_refusing_service_manager_is_one_clear_error_naming_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    plan = systemd_plan(ARGV)
    with pytest.raises(ServiceError, match=r"`systemctl --user enable journey-studio.service` failed "
                                           r"\(exit 1\): Failed to connect to bus"):
        install(plan, Runner({"enable": (1, "Failed to connect to bus:\n No medium found")}))
    with pytest.raises(ServiceError, match="is not available on this machine .* the service file was written"):
        install(plan, Runner({"daemon-reload": (127, "systemctl: not found")}))
    assert plan.path.exists()
    state = status(plan, Runner({"is-active": (3, "inactive"), "is-enabled": (1, "disabled")}))
    assert (state.running, state.said) == (False, "inactive, disabled at login")
    # Stopping a unit that was not running is no failure when removing it; a real failure is.
    assert uninstall(plan, Runner({"disable": (5, "Unit not loaded")}))
    install(plan, Runner())
    with pytest.raises(ServiceError, match="daemon-reload"):
        uninstall(plan, Runner({"daemon-reload": (1, "Access denied")}))


def test_the_launchd_agent_starts_at_login_and_restarts_only_after_a_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    plan = launchd_plan(ARGV)
    assert plan.path == tmp_path / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    agent = plistlib.loads(plan.content)
    assert agent["Label"] == LAUNCHD_LABEL and agent["ProgramArguments"] == ARGV     # no shell: no quoting
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["StandardErrorPath"].startswith(str(tmp_path / "Library" / "Logs"))
    run = Runner({"bootout": (3, "Boot-out failed: 3: No such process")})      # not loaded yet: no failure
    install(plan, run)
    domain = f"gui/{os.getuid()}"
    assert run.calls == [["launchctl", "bootout", f"{domain}/{LAUNCHD_LABEL}"],
                         ["launchctl", "bootstrap", domain, str(plan.path)],
                         ["launchctl", "enable", f"{domain}/{LAUNCHD_LABEL}"]]
    state = status(plan, Runner({"print": (0, "gui/501/com.journeystudio.engine = {\n\tstate = running\n}")}))
    assert state.running and state.said == "running"
    assert status(plan, Runner({"print": (113, "Could not find service")})).said == "not loaded"
    run = Runner({"bootout": (3, "No such process")})
    assert uninstall(plan, run) and run.calls == [["launchctl", "bootout", f"{domain}/{LAUNCHD_LABEL}"]]


def test_the_windows_task_runs_at_logon_restarts_on_failure_and_never_times_out(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEYS_LOG_FILE", str(tmp_path / "journeys.log"))
    plan = schtasks_plan(ARGV)
    text = plan.content.decode("utf-16")
    assert text.startswith('<?xml version="1.0" encoding="UTF-16"?>')
    ns = {"t": TASK_XMLNS}
    task = ET.fromstring(text.split("\n", 1)[1])
    assert task.find("t:Triggers/t:LogonTrigger/t:Enabled", ns).text == "true"
    assert task.find("t:Settings/t:RestartOnFailure/t:Interval", ns).text == "PT1M"
    assert task.find("t:Settings/t:ExecutionTimeLimit", ns).text == "PT0S"        # runs for ever
    assert task.find("t:Settings/t:MultipleInstancesPolicy", ns).text == "IgnoreNew"
    assert task.find("t:Settings/t:DisallowStartIfOnBatteries", ns).text == "false"
    assert task.find("t:Actions/t:Exec/t:Command", ns).text == ARGV[0]
    # Arguments as Windows splits them back (CommandLineToArgvW rules: subprocess.list2cmdline).
    assert task.find("t:Actions/t:Exec/t:Arguments", ns).text == subprocess.list2cmdline(ARGV[1:])
    assert task.find("t:Principals/t:Principal/t:RunLevel", ns).text == "LeastPrivilege"
    run = Runner({"/End": (1, "ERROR: The task is not running.")})          # installed again or not: no failure
    install(plan, run)
    assert run.calls == [["schtasks", "/Create", "/TN", TASK_NAME, "/XML", str(plan.path), "/F"],
                         ["schtasks", "/End", "/TN", TASK_NAME], ["schtasks", "/Run", "/TN", TASK_NAME]]
    state = status(plan, Runner({"/Query": (0, "TaskName:  \\Journey Studio engine\nStatus:   Running\n")}))
    assert state.running and state.said == "Running"
    run = Runner({"/End": (1, "ERROR: The task is not running.")})
    assert uninstall(plan, run) and run.calls[-1] == ["schtasks", "/Delete", "/TN", TASK_NAME, "/F"]


def test_the_service_runs_this_installations_journeys_on_the_same_database():
    argv = serve_argv("sqlite:////data/shop.sqlite3", "127.0.0.1:9000")
    assert argv[-5:] == ["serve", "--db", "sqlite:////data/shop.sqlite3", "--listen", "127.0.0.1:9000"]
    assert Path(argv[0]).parent == Path(sys.executable).parent
    windows = serve_argv("sqlite:///C:/shop.sqlite3", "127.0.0.1:9000", windows=True)
    assert windows[1:3] == ["-m", "app.cli"]
    assert plan_for("linux", "sqlite:////x", "127.0.0.1:1").kind == "systemd"


# -- the command line, with a stand-in systemctl that records what it was asked -----------------------------


@pytest.fixture
def fake_systemctl(tmp_path, monkeypatch):
    calls = tmp_path / "systemctl-calls"
    script = tmp_path / "systemctl"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n"
                      "case \"$2\" in is-active) echo active;; is-enabled) echo enabled;; esac\n")
    script.chmod(0o755)
    monkeypatch.setenv("JOURNEYS_SYSTEMCTL", str(script))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return calls


def _journeys(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the systemd commands run on Linux")
def test_journeys_service_install_status_uninstall(tmp_path, fake_systemctl):
    db = tmp_path / "shop.sqlite3"
    done = _journeys("service", "install", "--db", str(db), "--listen", "127.0.0.1:9876")
    assert done.returncode == 0, done.stderr
    assert "Installed the systemd user unit" in done.stdout and "starts at login" in done.stdout
    unit = (tmp_path / "config" / "systemd" / "user" / UNIT_NAME).read_text()
    assert f"serve --db sqlite:///{db} --listen 127.0.0.1:9876" in unit
    assert fake_systemctl.read_text().splitlines() == ["--user daemon-reload", f"--user enable {UNIT_NAME}",
                                                       f"--user restart {UNIT_NAME}"]
    done = _journeys("service", "status", "--db", str(db))
    assert done.stdout.splitlines() == [
        f"Service: systemd user unit {tmp_path}/config/systemd/user/{UNIT_NAME} — active, enabled at login; "
        f"its log: {tmp_path}/logs/journeys-service.jsonl",
        "Engine: not running (no window or background service holds this database)"]
    done = _journeys("service", "uninstall")
    assert done.returncode == 0 and "Removed the systemd user unit" in done.stdout
    assert not (tmp_path / "config" / "systemd" / "user" / UNIT_NAME).exists()
    assert _journeys("service", "uninstall").stdout.startswith("The background service is not installed")


def test_install_refuses_a_database_it_cannot_open_and_another_systems_service(tmp_path, fake_systemctl):
    (tmp_path / "folder").mkdir()
    done = _journeys("service", "install", "--db", str(tmp_path / "folder"))
    assert done.returncode == 2 and "is a folder" in done.stderr and not fake_systemctl.exists()
    done = _journeys("service", "install", "--db", str(tmp_path / "x.sqlite3"), "--platform", "windows")
    assert done.returncode == 2 and "add --dry-run to see its file" in done.stderr


def test_a_dry_run_prints_the_file_and_the_commands_and_no_password(tmp_path, fake_systemctl):
    done = _journeys("service", "install", "--db", str(tmp_path / "x.sqlite3"), "--dry-run", "--platform", "macos")
    assert done.returncode == 0 and "<key>KeepAlive</key>" in done.stdout and "launchctl bootstrap gui/" in done.stdout
    assert not fake_systemctl.exists() and not (tmp_path / "config").exists()


def _systemctl_user_works() -> bool:
    if not shutil.which("systemctl"):
        return False
    try:
        return subprocess.run(["systemctl", "--user", "is-system-running"], capture_output=True,
                              timeout=10).returncode in (0, 1) and \
            subprocess.run(["systemctl", "--user", "show-environment"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _systemctl_user_works(), reason="no working `systemctl --user` on this machine")
def test_with_a_real_systemd_user_manager(tmp_path):        # pragma: no cover - only where systemd runs
    """Installs for real under a unit name of its own, sees it active, removes it."""
    env_unit = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user" / UNIT_NAME
    if env_unit.exists():
        pytest.skip("a Journey Studio service is installed for this user; not touching it")
    plan = systemd_plan(serve_argv(f"sqlite:///{tmp_path / 'real.sqlite3'}", "127.0.0.1:0"))
    try:
        install(plan)
        assert status(plan).installed
    finally:
        uninstall(plan)
    assert not plan.path.exists()


# -- review (issue 13): the installed service listens where Settings → Receiver says --------------------------


def test_without_listen_the_service_reads_the_receivers_address_at_each_start():
    argv = serve_argv("sqlite:////data/shop.sqlite3", None)
    assert argv[-3:] == ["serve", "--db", "sqlite:////data/shop.sqlite3"] and "--listen" not in argv


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the systemd commands run on Linux")
def test_service_install_without_listen_leaves_the_address_to_the_receivers_setting(tmp_path, fake_systemctl):
    db = tmp_path / "shop.sqlite3"
    done = _journeys("receiver", "set", "--db", str(db), "--listen", "127.0.0.1:9123")
    assert done.returncode == 0, done.stderr
    done = _journeys("service", "install", "--db", str(db))
    assert done.returncode == 0, done.stderr
    unit = (tmp_path / "config" / "systemd" / "user" / UNIT_NAME).read_text()
    assert "--listen" not in unit and f"serve --db sqlite:///{db}\n" in unit
    # and the window's "Keep journeys running" installs the same
    from app.service.install import plan_for as plan
    from app.ui import background_service

    assert "--listen" not in plan("linux", f"sqlite:///{db}", background_service.LISTEN).content.decode()


@pytest.mark.parametrize("answer", [(127, "systemctl: not found"), (1, "Failed to connect to bus: No medium found")])
def test_status_says_plainly_when_systemd_cannot_be_asked(tmp_path, monkeypatch, answer):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    plan = systemd_plan(ARGV)
    plan.path.parent.mkdir(parents=True)
    plan.path.write_bytes(plan.content)
    state = status(plan, Runner({"is-active": answer, "is-enabled": answer}))
    assert state.installed and not state.running
    assert state.said == f"installed, but systemd cannot be asked whether it runs ({answer[1]})"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the systemd commands run on Linux")
def test_installing_again_for_another_database_restarts_the_running_service_on_it(tmp_path, fake_systemctl):
    """`enable --now` leaves a running unit alone: the service went on with the old database."""
    first, second = tmp_path / "old.sqlite3", tmp_path / "new.sqlite3"
    assert _journeys("service", "install", "--db", str(first)).returncode == 0
    done = _journeys("service", "install", "--db", str(second))
    assert done.returncode == 0, done.stderr
    calls = fake_systemctl.read_text().splitlines()
    assert calls[-1] == f"--user restart {UNIT_NAME}"          # started if stopped, restarted on the new unit
    assert f"serve --db sqlite:///{second}" in (tmp_path / "config" / "systemd" / "user" / UNIT_NAME).read_text()
