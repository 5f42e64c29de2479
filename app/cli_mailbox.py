"""`journeys mailbox poll|test`: the sender's mailbox (bounces, replies, unsubscribe mails) from the
command line, with the settings stored in the database and the password from the keyring or
JOURNEYS_IMAP_PASSWORD (app/delivery/imap_poll.py does the work)."""
from __future__ import annotations

import argparse
from typing import Any, Callable

from app.cli import CommandError, _open_engine
from app.exits import OK, PROBLEMS


def _mailbox(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """(database, IMAP settings, password), or CommandError saying what to set up."""
    from app.delivery.secrets import ENVIRONMENT, IMAP_PASSWORD, get_secret
    from app.delivery.settings import load_settings

    db = _open_engine(args.db)
    settings = load_settings(db).imap
    if not settings.configured:
        raise CommandError("the mailbox is not set up: give its IMAP host and user name in the app "
                           "(Settings → Channels → Mailbox) or with `journeys channels set`")
    password = get_secret(IMAP_PASSWORD)
    if not password:
        raise CommandError(f"no mailbox password: store it in the app (Settings → Channels) or set "
                           f"{ENVIRONMENT[IMAP_PASSWORD]}")
    return db, settings, password


def cmd_mailbox_poll(args: argparse.Namespace) -> int:
    from app.delivery.imap_poll import MailboxError, poll_mailbox
    from app.engine.engine import JourneyEngine

    db, settings, password = _mailbox(args)
    try:
        report = poll_mailbox(db, JourneyEngine(db), settings, password)
    except MailboxError as exc:
        raise CommandError(f"{settings.host}: {exc.detail}") from None
    print(f"Mailbox {settings.username} ({settings.folder}): {report.summary()}")
    if report.duplicates:
        print(f"{report.duplicates} event(s) had been recorded before (mails read again after an interruption)")
    return OK


def cmd_mailbox_test(args: argparse.Namespace) -> int:
    from app.delivery.imap_poll import check_mailbox

    _, settings, password = _mailbox(args)
    result = check_mailbox(settings, password)
    print(result.detail if result.ok else f"Failed ({result.stage}): {result.detail}")
    return OK if result.ok else PROBLEMS


def add_mailbox_commands(sub: argparse._SubParsersAction, db_parent: argparse.ArgumentParser) -> None:
    """Registers `journeys mailbox poll` and `journeys mailbox test` (called from engine_cli.add_commands)."""
    mailbox = sub.add_parser("mailbox", help="Read bounces, replies and unsubscribe mails from the sender's mailbox.")
    actions = mailbox.add_subparsers(dest="mailbox_command", required=True, metavar="ACTION")

    def command(name: str, handler: Callable[[argparse.Namespace], int], text: str) -> None:
        p = actions.add_parser(name, parents=[db_parent], help=text, description=text)
        p.set_defaults(handler=handler)

    command("poll", cmd_mailbox_poll,
            "Read the mailbox once over IMAP: bounces fail their message, replies mark it replied, mails to the "
            "unsubscribe address opt the contact out of email. Mails are flagged $JourneysProcessed, never deleted.")
    command("test", cmd_mailbox_test, "Connect to the mailbox, log in and open its folder; say what failed, if anything.")
