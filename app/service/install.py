"""`journeys service install|uninstall|status`: `journeys serve` as a per-user service that starts at
login and restarts on failure.

- Linux: a systemd user unit, `~/.config/systemd/user/journey-studio.service` ($XDG_CONFIG_HOME
  respected, as systemd does), `Restart=on-failure`, `WantedBy=default.target`, then
  `systemctl --user daemon-reload`, `systemctl --user enable journey-studio.service` and `systemctl --user
  restart journey-studio.service`
  (systemd.service(5), systemd.unit(5): `%` and `$` escaped, arguments quoted).
- macOS: a launchd agent, `~/Library/LaunchAgents/com.journeystudio.engine.plist` (RunAtLoad,
  KeepAlive/SuccessfulExit=false: restarted when it fails, not when stopped cleanly), loaded with
  `launchctl bootstrap gui/UID PLIST` (launchd.plist(5), launchctl(1)).
- Windows: a Task Scheduler task "Journey Studio engine" from an XML definition (task schema 1.2:
  a LogonTrigger for the user, RestartOnFailure every minute, no time limit), registered with
  `schtasks /Create /TN … /XML FILE /F` and started with `schtasks /Run`.

The service runs the same `journeys` on the same database as the process that installs it: the
database URL is written out in full (a systemd or launchd service sees none of the shell's
variables), so the file is created readable by its owner only. Every command goes through `run`,
injectable, so the tests check the files and the commands without a service manager;
$JOURNEYS_SYSTEMCTL, $JOURNEYS_LAUNCHCTL and $JOURNEYS_SCHTASKS name other programs to run.
"""

from __future__ import annotations

import getpass
import os
import plistlib
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from xml.etree import ElementTree as ET

from app.paths import ROOT

UNIT_NAME = "journey-studio.service"
LAUNCHD_LABEL = "com.journeystudio.engine"
TASK_NAME = "Journey Studio engine"
PLATFORMS = {"linux": "systemd", "darwin": "launchd", "win32": "schtasks"}
CHOICES = ("linux", "macos", "windows")
DESCRIPTION = "Journey Studio: the engine and the receiver in the background (journeys serve)"
TASK_XMLNS = "http://schemas.microsoft.com/windows/2004/02/mit/task"

Run = Callable[[list[str]], tuple[int, str]]
"""Runs a command; returns (exit code, what it printed). 127: the program is not there."""


class ServiceError(Exception):
    """The service manager refused or is missing; the message names the command and what it said."""


def run_command(argv: list[str]) -> tuple[int, str]:
    """The real runner: the command's exit code and its stdout and stderr together (127 when missing)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: no answer within 60 seconds"
    return done.returncode, (done.stdout + done.stderr).strip()


def platform_key(choice: str | None = None) -> str:
    """"linux", "macos" or "windows": `choice`, else this machine's. Raises ServiceError elsewhere."""
    if choice:
        return choice
    found = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform)
    if found is None:
        raise ServiceError(f"no per-user service manager is known for {sys.platform}; run `journeys serve` "
                           "from your system's own start-up mechanism")
    return found


def serve_argv(db_url: str, listen: str | None, *, windows: bool = False) -> list[str]:
    """The command the service runs: this installation's `journeys serve` (its console script when
    installed, else `python -m app.cli`; on Windows pythonw.exe, which opens no console window).
    `listen` None: no `--listen`, so the service listens where Settings → Receiver says at each start."""
    python = Path(sys.executable)
    if windows:
        windowless = python.with_name("pythonw.exe")
        program = [str(windowless if windowless.exists() else python), "-m", "app.cli"]
    else:
        script = python.with_name("journeys")
        program = [str(script)] if script.exists() else [str(python), "-m", "app.cli"]
    return [*program, "serve", "--db", db_url, *(["--listen", listen] if listen else [])]


@dataclass
class Plan:
    """What installing writes (`path`, `content`) and runs, and how to undo and inspect it."""

    kind: str                      # "systemd", "launchd", "schtasks"
    path: Path
    content: bytes
    install: list[list[str]]
    uninstall: list[list[str]]
    status: list[list[str]] = field(default_factory=list)
    tolerated: tuple[str, ...] = ()    # programs whose failure on uninstall means "was not loaded"

    def describe(self) -> str:
        return {"systemd": "systemd user unit", "launchd": "launchd agent",
                "schtasks": "Task Scheduler task"}[self.kind] + f" {self.path}"


# -- Linux: systemd --------------------------------------------------------------------------------------


def _systemd_quote(arg: str) -> str:
    """One ExecStart argument as systemd reads it: specifiers (`%`) and variables (`$`) doubled, and
    quoted (with `\\` and `"` escaped) when it holds a space, a quote or a backslash."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if not text or any(c in text for c in " \t\"'\\;"):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def systemd_unit(argv: list[str], workdir: Path = ROOT) -> str:
    """The unit file's text (systemd.service(5))."""
    return "\n".join([
        "# Written by `journeys service install`; remove with `journeys service uninstall`.",
        "[Unit]",
        f"Description={DESCRIPTION}",
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_systemd_quote(a) for a in argv),
        "WorkingDirectory=" + str(workdir).replace("%", "%%"),
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        "RestartSec=5",
        "# SIGTERM: the batch in hand finishes and the lease is given back; a minute at most.",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=60",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])


def systemd_plan(argv: list[str]) -> Plan:
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    ctl = [os.environ.get("JOURNEYS_SYSTEMCTL") or "systemctl", "--user"]
    return Plan("systemd", config / "systemd" / "user" / UNIT_NAME, systemd_unit(argv).encode(),
                # restart, not `enable --now`: a unit already running (installed before, perhaps for another
                # database) must pick up the new file; restart starts one that is not running.
                install=[[*ctl, "daemon-reload"], [*ctl, "enable", UNIT_NAME], [*ctl, "restart", UNIT_NAME]],
                uninstall=[[*ctl, "disable", "--now", UNIT_NAME], [*ctl, "daemon-reload"]],
                status=[[*ctl, "is-active", UNIT_NAME], [*ctl, "is-enabled", UNIT_NAME]],
                tolerated=("disable",))


# -- macOS: launchd ---------------------------------------------------------------------------------------


def launchd_plist(argv: list[str], workdir: Path = ROOT, logs: Path | None = None) -> bytes:
    """The agent's property list (launchd.plist(5)): started at login, restarted when it exits with a
    failure (not after a clean stop), at most every 10 seconds."""
    logs = logs or Path.home() / "Library" / "Logs" / "JourneyStudio"
    return plistlib.dumps({
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": argv,
        "WorkingDirectory": str(workdir),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ProcessType": "Background",
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "StandardOutPath": str(logs / "service.out.log"),
        "StandardErrorPath": str(logs / "service.err.log"),
    })


def launchd_plan(argv: list[str]) -> Plan:
    path = Path.home() / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    ctl = os.environ.get("JOURNEYS_LAUNCHCTL") or "launchctl"
    domain = f"gui/{os.getuid() if hasattr(os, 'getuid') else 501}"
    return Plan("launchd", path, launchd_plist(argv),
                # bootout first (tolerated: nothing loaded): bootstrap refuses an agent already loaded,
                # and an agent installed before must pick up the new file
                install=[[ctl, "bootout", f"{domain}/{LAUNCHD_LABEL}"], [ctl, "bootstrap", domain, str(path)],
                         [ctl, "enable", f"{domain}/{LAUNCHD_LABEL}"]],
                uninstall=[[ctl, "bootout", f"{domain}/{LAUNCHD_LABEL}"]],
                status=[[ctl, "print", f"{domain}/{LAUNCHD_LABEL}"]], tolerated=("bootout",))


# -- Windows: Task Scheduler -------------------------------------------------------------------------------


def task_xml(argv: list[str], workdir: Path = ROOT, user: str | None = None) -> bytes:
    """The task's XML definition (Task Scheduler schema 1.2), UTF-16 as schtasks /XML expects."""
    user = user or (f"{os.environ['USERDOMAIN']}\\{getpass.getuser()}" if os.environ.get("USERDOMAIN")
                    else getpass.getuser())
    ET.register_namespace("", TASK_XMLNS)
    ns = "{" + TASK_XMLNS + "}"
    task = ET.Element(ns + "Task", version="1.2")

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, ns + tag, attrs)
        element.text = text
        return element

    info = add(task, "RegistrationInfo")
    add(info, "Description", DESCRIPTION)
    add(info, "URI", "\\" + TASK_NAME)
    logon = add(add(task, "Triggers"), "LogonTrigger")
    add(logon, "Enabled", "true")
    add(logon, "UserId", user)
    principal = add(add(task, "Principals"), "Principal", id="Author")
    add(principal, "UserId", user)
    add(principal, "LogonType", "InteractiveToken")
    add(principal, "RunLevel", "LeastPrivilege")
    settings = add(task, "Settings")
    for tag, text in (("MultipleInstancesPolicy", "IgnoreNew"), ("DisallowStartIfOnBatteries", "false"),
                      ("StopIfGoingOnBatteries", "false"), ("AllowHardTerminate", "true"),
                      ("StartWhenAvailable", "true"), ("RunOnlyIfNetworkAvailable", "false")):
        add(settings, tag, text)
    idle = add(settings, "IdleSettings")
    add(idle, "StopOnIdleEnd", "false")
    add(idle, "RestartOnIdle", "false")
    for tag, text in (("AllowStartOnDemand", "true"), ("Enabled", "true"), ("Hidden", "false"),
                      ("RunOnlyIfIdle", "false"), ("WakeToRun", "false"),
                      ("ExecutionTimeLimit", "PT0S"), ("Priority", "7")):
        add(settings, tag, text)
    restart = add(settings, "RestartOnFailure")
    add(restart, "Interval", "PT1M")
    add(restart, "Count", "999")
    execute = add(add(task, "Actions", Context="Author"), "Exec")
    add(execute, "Command", argv[0])
    add(execute, "Arguments", subprocess.list2cmdline(argv[1:]))
    add(execute, "WorkingDirectory", str(workdir))
    ET.indent(task)
    return ('<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode")).encode("utf-16")


def schtasks_plan(argv: list[str]) -> Plan:
    from app.logfile import log_path

    tool = os.environ.get("JOURNEYS_SCHTASKS") or "schtasks"
    path = log_path().parent / "journey-studio-task.xml"
    return Plan("schtasks", path, task_xml(argv),
                # /End (tolerated: not running) before /Run: a task already running (IgnoreNew) would go on
                # with the old definition
                install=[[tool, "/Create", "/TN", TASK_NAME, "/XML", str(path), "/F"], [tool, "/End", "/TN", TASK_NAME],
                         [tool, "/Run", "/TN", TASK_NAME]],
                uninstall=[[tool, "/End", "/TN", TASK_NAME], [tool, "/Delete", "/TN", TASK_NAME, "/F"]],
                status=[[tool, "/Query", "/TN", TASK_NAME, "/V", "/FO", "LIST"]], tolerated=("/End",))


def plan_for(platform: str, db_url: str, listen: str | None = None) -> Plan:
    """The plan for `platform` ("linux", "macos", "windows") running `journeys serve` on `db_url`."""
    if platform == "linux":
        return systemd_plan(serve_argv(db_url, listen))
    if platform == "macos":
        return launchd_plan(serve_argv(db_url, listen))
    return schtasks_plan(serve_argv(db_url, listen, windows=True))


# -- doing it -----------------------------------------------------------------------------------------------


def install(plan: Plan, run: Run = run_command) -> list[str]:
    """Writes the file (0600, in folders created 0700) and runs the install commands; returns what they
    said. Raises ServiceError naming the first command that failed and its words (the file stays, so
    `journeys service install` can be run again after fixing the cause)."""
    plan.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = plan.path.with_name(plan.path.name + ".new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(plan.content)
    partial.replace(plan.path)
    said = []
    for argv in plan.install:
        code, output = run(argv)
        if code != 0 and not (code != 127 and set(plan.tolerated) & set(argv)):
            raise ServiceError(_failed(argv, code, output))
        said.append(output)
    return [s for s in said if s]


def uninstall(plan: Plan, run: Run = run_command) -> bool:
    """Stops and removes the service; returns False when it was not installed (nothing to do). A stop
    that fails because it was not running is no failure. Raises ServiceError otherwise."""
    if not plan.path.exists():
        return False
    for argv in plan.uninstall:
        code, output = run(argv)
        if code != 0 and not (set(plan.tolerated) & set(argv)):
            raise ServiceError(_failed(argv, code, output))
        if argv == plan.uninstall[0]:
            plan.path.unlink(missing_ok=True)     # before systemd's daemon-reload, which then forgets it
    plan.path.unlink(missing_ok=True)
    return True


@dataclass(frozen=True)
class ServiceState:
    """What `journeys service status` and the app say: installed (its file is there), running (the
    manager says it is active or loaded), and the manager's own words."""

    installed: bool
    running: bool
    said: str


def status(plan: Plan, run: Run = run_command) -> ServiceState:
    """Asks the service manager (never raises: a missing manager is "not running", in its words)."""
    if not plan.path.exists():
        return ServiceState(False, False, "not installed")
    answers = [run(argv) for argv in plan.status]
    if plan.kind == "systemd":
        active, enabled = (answers + [(1, "unknown")] * 2)[:2]
        if active[0] == 127 or "failed to connect" in active[1].lower():      # no systemctl, or no user manager
            words = " ".join(active[1].split())[:200] or "no answer"
            return ServiceState(True, False, f"installed, but systemd cannot be asked whether it runs ({words})")
        running = active[0] == 0 and active[1].strip() == "active"
        return ServiceState(True, running, f"{active[1] or 'unknown'}, {enabled[1] or 'unknown'} at login")
    code, output = answers[0]
    if plan.kind == "launchd":
        state = next((line.split("=", 1)[1].strip() for line in output.splitlines()
                      if line.strip().startswith("state =")), "not loaded" if code else "loaded")
        return ServiceState(True, code == 0 and state == "running", state)
    state = next((line.split(":", 1)[1].strip() for line in output.splitlines()
                  if line.strip().startswith("Status:")), "not registered" if code else "unknown")
    return ServiceState(True, code == 0 and state == "Running", state)


def _failed(argv: list[str], code: int, output: str) -> str:
    words = " ".join(output.split())[:300] or "no message"
    if code == 127:
        return (f"`{argv[0]}` is not available on this machine ({words}); the service file was written — "
                "start `journeys serve` at login another way (see the README, \"Running in the background\")")
    return f"`{' '.join(argv)}` failed (exit {code}): {words}"
