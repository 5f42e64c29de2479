"""The channels' headless commands: `journeys channels show|set|secret|test`, `journeys send-test`, and
`journeys outbox unknown|resend` (messages whose fate is unknown).

Secrets are never taken from the command line (the shell keeps its history) nor printed: `channels
secret NAME` reads one from the keyboard without echo, or from stdin. Exit codes as everywhere
(app/exits.py): 0 ok; 1 a test or test send that failed (the stage and the provider's words are said);
2 a value or an argument that cannot be used (the key is named), an unknown journey, step or contact.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from app.cli import PROBLEMS, CommandError, _open_engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.delivery.settings import DeliverySettings

_SECTION_TITLES = {"email": "Email (SMTP)", "imap": "Mailbox (IMAP: bounces, replies, unsubscribes)",
                   "sms": "SMS (Twilio)", "whatsapp": "WhatsApp", "general": "General"}
_SECRET_ALIASES = {"smtp": "smtp_password", "smtp_password": "smtp_password", "email": "smtp_password",
                   "imap": "imap_password", "imap_password": "imap_password",
                   "twilio": "twilio_auth_token", "twilio_auth_token": "twilio_auth_token",
                   "meta": "meta_access_token", "meta_access_token": "meta_access_token"}


def _say(text: str = "") -> None:
    print(text)


def _settings(args: argparse.Namespace, *, write: bool = False) -> tuple[Engine, DeliverySettings]:
    from app.delivery.settings import load_settings

    db = _open_engine(args.db, write=write)
    return db, load_settings(db)


def cmd_channels_show(args: argparse.Namespace) -> int:
    from app.delivery.checks import secret_state
    from app.delivery.secrets import ENVIRONMENT
    from app.delivery.setting_fields import SECRET_WORDS, SECTIONS, get_value, secret_for, shown

    _db, settings = _settings(args)
    no_keyring = ""
    for section, fields in SECTIONS.items():
        _say(_SECTION_TITLES[section])
        meta = section == "whatsapp" and settings.whatsapp.provider == "meta"
        for f in fields:
            if section == "whatsapp" and f.path[1:2] == ("meta",) and not meta:
                continue            # the provider not chosen: its fields are not in use
            if section == "whatsapp" and f.path[1:2] == ("twilio",) and meta:
                continue
            value = shown(get_value(settings, f))
            _say(f"  {f.key:<24}{value if value != '' else '(not set)'}")
        name = secret_for(settings, section)
        if name is not None:
            state, words = secret_state(name)
            _say(f"  {SECRET_WORDS[name]:<24}{words}")
            if state == "unavailable":
                no_keyring = words
        _say()
    if no_keyring:
        _say("Secrets: this computer has no usable keyring, so each secret must come from its environment "
             f"variable ({', '.join(ENVIRONMENT.values())}); see the README, \"Channels and secrets\".")
    if not settings.public_url:
        _say("Without a public URL: email and texts go out, Twilio statuses are polled, bounces, replies and "
             "unsubscribe mails are read from the mailbox; one-click unsubscribe links, opens and clicks, and "
             "Meta status webhooks need one.")
    return 0


def cmd_channels_set(args: argparse.Namespace) -> int:
    from app.delivery.setting_fields import SettingError, field, get_value, set_value, shown
    from app.delivery.settings import save_settings

    pairs = []
    for item in args.values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"{item!r}: write KEY=VALUE, e.g. `journeys channels set {args.section} "
                               f"{'host=smtp.gmail.com' if args.section in ('email', 'imap') else 'sender=+15005550006'}`")
        pairs.append((key.strip(), value))
    db, settings = _settings(args, write=True)
    errors: list[str] = []
    changed: list[str] = []
    for key, value in pairs:
        try:
            f = field(args.section, key)
            old = shown(get_value(settings, f))
            set_value(settings, args.section, key, value)
            new = shown(get_value(settings, f))
            if new != old:
                changed.append(f"{args.section} {f.key}: {old or '(not set)'} → {new or '(not set)'}")
        except SettingError as exc:
            errors.append(f"{args.section} {exc}")
    if errors:
        raise CommandError("; ".join(errors) + ("; nothing was changed" if len(pairs) > 1 else ""))
    save_settings(db, settings)
    for line in changed or [f"{args.section}: nothing changed"]:
        _say(line)
    note = _port_note(settings, args.section)
    if note:
        _say(note)
    return 0


def _port_note(settings: DeliverySettings, section: str) -> str:
    """A hint when the port and the security do not go together as providers use them."""
    if section == "email":
        usual = {"starttls": 587, "tls": 465}.get(settings.email.security)
        if usual and settings.email.port in (465, 587) and settings.email.port != usual:
            return (f"note: port {settings.email.port} usually goes with "
                    f"{'TLS' if settings.email.port == 465 else 'STARTTLS'}, not {settings.email.security}")
    if section == "imap":
        usual = {"starttls": 143, "tls": 993}.get(settings.imap.security)
        if usual and settings.imap.port in (143, 993) and settings.imap.port != usual:
            return f"note: port {settings.imap.port} usually goes with another security than {settings.imap.security}"
    return ""


def _read_secret(label: str) -> str:
    """The secret typed without echo (a terminal), else the first line of stdin."""
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        try:
            return getpass.getpass(f"{label} (not shown): ")
        except EOFError:
            return ""
    try:
        line = sys.stdin.readline() if sys.stdin is not None else ""
    except (OSError, ValueError):     # closed, or not text (UnicodeDecodeError): nothing usable was read
        line = ""
    return line.rstrip("\r\n")


def cmd_channels_secret(args: argparse.Namespace) -> int:
    from app.delivery.checks import secret_state
    from app.delivery.secrets import ENVIRONMENT, SecretsUnavailable, set_secret
    from app.delivery.setting_fields import SECRET_WORDS

    name = _SECRET_ALIASES.get(args.name.strip().lower().replace("-", "_"))
    if name is None:
        raise CommandError(f"{args.name!r} is no secret; use one of smtp_password, imap_password, "
                           "twilio_auth_token, meta_access_token")
    words = SECRET_WORDS[name]
    try:
        if args.delete:
            set_secret(name, None)
            _say(f"Removed the {words} from the keyring.")
            return 0
        value = _read_secret(words)
        if not value.strip():
            raise CommandError(f"no {words} was read (nothing typed or an empty line); to remove it use --delete")
        set_secret(name, value)
    except SecretsUnavailable as exc:
        raise CommandError(str(exc)) from None
    _say(f"Stored the {words} in the keyring.")
    if secret_state(name)[0] == "environment":
        _say(f"note: {ENVIRONMENT[name]} is set in this environment and wins over the keyring")
    return 0


def cmd_channels_test(args: argparse.Namespace) -> int:
    from app.delivery.checks import check_channel

    _db, settings = _settings(args)
    result = check_channel(settings, args.channel)
    if result.ok:
        _say(f"{args.channel}: ✓ {result.detail}")
        return 0
    print(f"{args.channel}: failed at {result.stage or 'connect'}: {result.detail}", file=sys.stderr)
    return PROBLEMS


def cmd_send_test(args: argparse.Namespace) -> int:
    from app.delivery.base import DeliveryFailure, NotConfigured
    from app.delivery.settings import load_settings
    from app.delivery.test_send import (TEMPLATE_NOTE, SendTestRefused, check_recipient, find_step, prepare_test,
                                        send_prepared)
    from app.journey.fileformat import JourneyFileError, from_document
    from app.store.journeys import JourneyStore

    db = _open_engine(args.db, write=False)
    store = JourneyStore(db)
    row = store.find(args.journey)
    if row is None:
        names = ", ".join(repr(r.name) for r in store.list()) or "none yet"
        raise CommandError(f"no journey named {args.journey!r} in the store (journeys: {names})")
    try:
        journey = from_document(store.load_draft(row.id), f"journey {row.name!r}")
        step = find_step(journey, args.step)
        check_recipient(step.config["channel"], args.to)       # an argument error first: exit 2
    except (JourneyFileError, SendTestRefused) as exc:
        raise CommandError(str(exc)) from None
    try:
        prepared = prepare_test(db, journey, step.id, args.to, args.contact)
    except SendTestRefused as exc:
        if args.contact and str(exc).startswith("no contact"):
            raise CommandError(str(exc)) from None
        print(f"not sent: {exc}", file=sys.stderr)
        return PROBLEMS
    out = prepared.outgoing
    _say(f"Test of {prepared.step_title!r} ({out.channel}) to {out.recipient}, rendered for {prepared.contact} "
         f"with {prepared.event}:")
    if out.subject is not None:
        _say(f"  Subject: {out.subject}")
    if out.sender:
        _say(f"  From: {out.sender}")
    if out.whatsapp_template:
        _say(f"  WhatsApp template: {out.whatsapp_template.get('name')} ({out.whatsapp_template.get('language')})")
        for number, value in enumerate(out.whatsapp_template.get("variables") or [], 1):
            _say(f"  {{{{{number}}}}} = {value}")
        _say(f"  ({TEMPLATE_NOTE})")
    else:
        for line in (out.body_text or "(no plain text: the HTML part only)").splitlines()[:20]:
            _say(f"  | {line}")
    try:
        sent = send_prepared(load_settings(db), prepared)
    except DeliveryFailure as exc:
        stage = "settings" if isinstance(exc, NotConfigured) else exc.code or type(exc).__name__.lower()
        print(f"not sent ({stage}): {exc.text}", file=sys.stderr)
        return PROBLEMS
    _say(f"Sent. The provider's id: {sent.provider_id or '(none given)'} (status {sent.status}).")
    return 0


def cmd_outbox_unknown(args: argparse.Namespace) -> int:
    from app.delivery.unknown import count_unknown, unknown_messages

    db = _open_engine(args.db, write=False)
    total = count_unknown(db)
    if not total:
        _say("No messages with an unknown fate.")
        return 0
    found = unknown_messages(db, args.limit)
    _say(f"{total} message(s) whose fate is unknown (handed to the provider, no answer recorded; each may have "
         "arrived). Resend one with `journeys outbox resend ID` — it may arrive twice:")
    for m in found:
        _say(f"  {m.id:>8}  {m.created_at:%Y-%m-%d %H:%M}  {m.channel:<8} {m.recipient:<28} "
             f"{m.journey or '—'}: {m.subject}" + (f"  ({m.error})" if m.error else ""))
    if total > len(found):
        _say(f"  … and {total - len(found)} older (--limit N shows more)")
    return 0


def cmd_outbox_resend(args: argparse.Namespace) -> int:
    from app.delivery.unknown import resend

    done = resend(_open_engine(args.db), args.ids, datetime.now(timezone.utc))
    left = len(set(args.ids)) - done
    _say(f"Queued {done} message(s) again for one more attempt."
         + (f" {left} id(s) were not messages with an unknown fate and were left alone." if left else ""))
    return 0 if not left else PROBLEMS


_LARGEST_ID = 2 ** 63 - 1          # the databases' largest integer key


def _message_id(text: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= _LARGEST_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not a message id (a whole number, as `journeys outbox "
                                         "unknown` lists them)")
    return int(value)


def _how_many(text: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count: write a whole number from 1 to 1000000")
    return int(value)


def add_channel_commands(sub: argparse._SubParsersAction, db_parent: argparse.ArgumentParser,
                         outbox: argparse._SubParsersAction | None = None) -> None:
    """Registers `channels`, `send-test` and `outbox unknown|resend` (in `outbox`, the group
    app.cli_outbox made, when given; called from app.engine_cli.add_commands)."""
    def command(parent: argparse._SubParsersAction, name: str, handler: Callable[[argparse.Namespace], int],
                help_text: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[db_parent], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    from app.delivery.setting_fields import SECTIONS

    channels = sub.add_parser("channels", help="Set up and test the delivery channels.").add_subparsers(
        dest="channels_command", required=True, metavar="ACTION")
    command(channels, "show", cmd_channels_show,
            "Show every channel's settings and where each secret comes from (never the secret itself).")
    p = command(channels, "set", cmd_channels_set,
                "Set channel settings: `journeys channels set email host=smtp.gmail.com port=587`. Each value is "
                "checked; a bad one is named and nothing is changed (exit 2).")
    p.add_argument("section", choices=tuple(SECTIONS), metavar="SECTION",
                   help=f"one of {', '.join(SECTIONS)}")
    p.add_argument("values", nargs="+", metavar="KEY=VALUE")
    p = command(channels, "secret", cmd_channels_secret,
                "Store a secret in the keyring, typed without echo or read from stdin (never from the command "
                "line): smtp_password, imap_password, twilio_auth_token, meta_access_token.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--delete", action="store_true", help="remove it from the keyring")
    p = command(channels, "test", cmd_channels_test,
                "Connect and sign in to a channel's provider; exit 0 when it works, 1 with the failing stage.")
    p.add_argument("channel", choices=("email", "sms", "whatsapp", "imap"), metavar="CHANNEL",
                   help="email, sms, whatsapp or imap")

    p = command(sub, "send-test", cmd_send_test,
                "Send one step's message now, marked [TEST], to an address you give, rendered for a contact "
                "(or a sample one); not counted, no quiet hours or caps.")
    p.add_argument("journey", metavar="JOURNEY", help="the journey's name or id")
    p.add_argument("step", metavar="STEP", help="the send step's id or title")
    p.add_argument("--to", required=True, metavar="ADDRESS",
                   help="an email address for an email step, a phone number (+4915123456789) for SMS or WhatsApp")
    p.add_argument("--contact", metavar="ID", help="render for this contact (default: a sample contact)")

    if outbox is None:
        outbox = sub.add_parser("outbox", help="Messages in the outbox.").add_subparsers(
            dest="outbox_command", required=True, metavar="ACTION")
    p = command(outbox, "unknown", cmd_outbox_unknown,
                "List the messages whose fate is unknown (they may have arrived), newest first.")
    p.add_argument("--limit", type=_how_many, default=50, metavar="N", help="show at most N (default 50)")
    p = command(outbox, "resend", cmd_outbox_resend,
                "Queue messages whose fate is unknown for one more attempt (they may arrive twice).")
    p.add_argument("ids", nargs="+", type=_message_id, metavar="ID")
