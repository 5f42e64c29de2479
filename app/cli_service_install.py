"""`journeys service install|uninstall|status`: `journeys serve` as a per-user service
(app/service/install.py: a systemd user unit, a launchd agent, a Task Scheduler task).

`install` checks the database first (a service that cannot open it would only restart in a loop),
writes the service's file and starts it; `--dry-run` prints the file and the commands and changes
nothing (`--platform macos|windows` shows another system's). `status` says whether it is installed
and running, and who runs the engine on the database now. Exit codes: 0 done; 2 the database cannot
be used, or the service manager refused (its words are printed).
"""
from __future__ import annotations

import argparse
from typing import Any

from app.cli import CommandError, _open_engine


def _plan(args: argparse.Namespace, db_url: str = ""):  # noqa: ANN202 - app.service.install.Plan
    from app.service.install import ServiceError, plan_for, platform_key

    try:
        platform = platform_key(args.platform)
    except ServiceError as exc:
        raise CommandError(str(exc)) from None
    return platform, plan_for(platform, db_url, getattr(args, "listen", None))


def _here(platform: str) -> None:
    from app.service.install import platform_key

    if platform != platform_key(None):
        raise CommandError(f"this machine cannot install a {platform} service; add --dry-run to see its file")


def cmd_install(args: argparse.Namespace) -> int:
    from app.service.install import ServiceError, install

    import shlex
    import subprocess

    db = _open_engine(args.db)                     # a database the service could not open: refused now
    url = db.url.render_as_string(hide_password=args.dry_run)     # a dry run prints no password
    db.dispose()
    platform, plan = _plan(args, url)
    if args.dry_run:
        text = plan.content.decode("utf-16" if plan.kind == "schtasks" else "utf-8")
        print(f"# {plan.path}\n{text.rstrip()}\n")
        print("# then:")
        for argv in plan.install:
            print(subprocess.list2cmdline(argv) if platform == "windows" else shlex.join(argv))
        return 0
    _here(platform)
    try:
        said = install(plan)
    except ServiceError as exc:
        raise CommandError(str(exc)) from None
    for line in said:
        print(line)
    print(f"Installed the {plan.describe()}: Journey Studio's engine now runs in the background, starts at "
          "login and restarts if it fails. `journeys service status` shows it; `journeys service uninstall` "
          "removes it.")
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    from app.service.install import ServiceError, uninstall

    platform, plan = _plan(args)
    _here(platform)
    try:
        removed = uninstall(plan)
    except ServiceError as exc:
        raise CommandError(str(exc)) from None
    print(f"Removed the {plan.describe()}; journeys run while Journey Studio is open." if removed
          else "The background service is not installed; nothing to remove.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from app.service.install import status
    from app.service.words import engine_text
    from app.store.lease import current_holder

    platform, plan = _plan(args)
    state = status(plan) if platform == _host() else None
    if state is None or not state.installed:
        print("Service: not installed (`journeys service install` sets it up)")
    else:
        from app.service.jsonlog import service_log_path

        print(f"Service: {plan.describe()} — {state.said}; its log: {service_log_path()}")
    print(engine_text(current_holder(_open_engine(args.db, write=False))))
    return 0


def _host() -> str | None:
    from app.service.install import ServiceError, platform_key

    try:
        return platform_key(None)
    except ServiceError:
        return None


def add_install_commands(sub: Any, db_parent: argparse.ArgumentParser) -> None:
    """Registers `service install|uninstall|status`."""
    from app.service.http import DEFAULT_LISTEN
    from app.service.install import CHOICES

    service = sub.add_parser("service", help="Run journeys in the background: install, uninstall or check the "
                                             "per-user service.",
                             description="Install `journeys serve` as a per-user service that starts at login and "
                                         "restarts on failure (systemd on Linux, launchd on macOS, Task Scheduler "
                                         "on Windows).")
    verbs = service.add_subparsers(dest="verb", required=True, metavar="VERB")
    p = verbs.add_parser("install", parents=[db_parent], help="install and start the service",
                         description="Install and start the background service for this database.")
    p.set_defaults(handler=cmd_install)
    p.add_argument("--listen", metavar="HOST:PORT", default=None,
                   help=f"where its receiver listens (default: the address set in File → Receiver… or `journeys "
                        f"receiver set --listen` when the service starts, else {DEFAULT_LISTEN})")
    p.add_argument("--dry-run", action="store_true", help="print the service file and the commands; change nothing")
    for name, handler, text in (("uninstall", cmd_uninstall, "stop and remove the service"),
                                ("status", cmd_status, "is it installed and running; who runs the engine")):
        p = verbs.add_parser(name, parents=[db_parent], help=text, description=text[0].upper() + text[1:] + ".")
        p.set_defaults(handler=handler)
    for p in verbs.choices.values():
        p.add_argument("--platform", choices=CHOICES, help="another system's service (with --dry-run)")
