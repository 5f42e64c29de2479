"""`journeys connect shopify|woocommerce` and `journeys connections [list|poll|remove]`: shops polled
for orders, customers and checkouts (app/connectors), from the command line.

`connect` really calls the shop's API before saving anything (exit 1 and the reason when it refuses
or cannot be reached); the token or keys go to the keyring (or come from JOURNEYS_SHOPIFY_TOKEN,
JOURNEYS_WOOCOMMERCE_KEY and JOURNEYS_WOOCOMMERCE_SECRET on a machine without one). `connections`
lists each shop with its phase (history until the first import is in, then live), last poll, last
error, events received and cursors; `connections poll` polls now (what the service does every minute).
"""
from __future__ import annotations

import argparse
import getpass
import math
import os
import sys
from datetime import datetime, timezone

from app.cli import CommandError, _open_engine
from app.exits import OK, PROBLEMS

_PROMPTS = {"token": "Admin API access token", "key": "Consumer key", "secret": "Consumer secret"}


def _secret(args: argparse.Namespace, kind: str, part: str) -> str:
    from app.connectors.secrets import ENVIRONMENT

    value = getattr(args, part, None) or os.environ.get(ENVIRONMENT[(kind, part)], "")
    if not value and sys.stdin.isatty():
        value = getpass.getpass(f"{_PROMPTS[part]}: ")
    if not value.strip():
        raise CommandError(f"give the {_PROMPTS[part].lower()} with --{part} (or set {ENVIRONMENT[(kind, part)]})")
    return value.strip()


def cmd_connect(args: argparse.Namespace) -> int:
    from app.connectors.errors import ConnectorError
    from app.connectors.secrets import PARTS
    from app.connectors.setup import connect
    from app.delivery.secrets import SecretsUnavailable

    kind = args.kind
    address = args.shop if kind == "shopify" else args.url
    secrets: dict[str, str | None] = {part: _secret(args, kind, part) for part in PARTS[kind]}
    db = _open_engine(args.db)
    try:
        cid, said = connect(db, kind, address, secrets, datetime.now(timezone.utc), interval=args.interval)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except ConnectorError as exc:
        print(f"Not saved: {exc}", file=sys.stderr)
        return PROBLEMS
    except SecretsUnavailable as exc:
        raise CommandError(f"not saved: {exc}") from None
    print(f"{said}.\nSaved as {cid}. The first poll imports the shop's history (customers, orders"
          f"{', abandoned checkouts' if kind == 'shopify' else ''}) without starting any journey; after that "
          "new ones arrive every minute while `journeys serve` or the app runs (`journeys connections poll` "
          "polls now).")
    return OK


def _seconds(text: str) -> float:
    """--interval: a number of seconds, at least 10 and at most a day (argparse says the rest)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 10 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"{text} seconds: give between 10 and 86400 (a day)")
    return value


def cmd_connections(args: argparse.Namespace) -> int:
    from app.connectors.store import ago, cursors_of, list_connections

    db = _open_engine(args.db, write=False)
    found = list_connections(db)
    if not found:
        print("No shop is connected. `journeys connect shopify --shop NAME.myshopify.com --token …` or "
              "`journeys connect woocommerce --url https://… --key … --secret …` adds one.")
        return OK
    now = datetime.now(timezone.utc)
    for c in found:
        state = "failing" if c.failing else ("importing history" if c.phase == "history" else "live")
        print(f"{c.id}\n  status: {state}; every {int(c.interval)} s; last poll {ago(c.last_poll_at, now)}; "
              f"last success {ago(c.last_ok_at, now)}; {c.received} event(s) received")
        if c.last_error:
            print(f"  last error ({ago(c.last_error_at, now)}): {c.last_error}")
        for resource, cursor in cursors_of(db, c.id).items():
            shown = ", ".join(f"{k}={v}" for k, v in cursor.items() if v not in (None, ""))
            print(f"  {resource}: {shown or 'from the start'}")
    return OK


def cmd_connections_poll(args: argparse.Namespace) -> int:
    from app.connectors.poller import poll
    from app.connectors.store import find_connection, list_connections
    from app.engine.engine import JourneyEngine

    db = _open_engine(args.db)
    if args.name:
        one = find_connection(db, args.name)
        if one is None:
            raise CommandError(f"no connection {args.name!r}: `journeys connections` lists them")
        targets = [one]
    else:
        targets = list_connections(db)
    engine = JourneyEngine(db)
    failed = 0
    for c in targets:
        report = poll(engine, c.id)
        print(report.summary())
        for note in report.applied.notes[:20]:
            print(f"  {note}", file=sys.stderr)
        failed += report.error is not None
    return PROBLEMS if failed else OK


def cmd_connections_remove(args: argparse.Namespace) -> int:
    from app.connectors.secrets import forget_secrets
    from app.connectors.store import find_connection, remove_connection

    db = _open_engine(args.db)
    one = find_connection(db, args.name)
    if one is None:
        raise CommandError(f"no connection {args.name!r}: `journeys connections` lists them")
    remove_connection(db, one.id)
    forget_secrets(one.id)
    print(f"Removed {one.id} (the events it brought stay).")
    return OK


def add_connect_commands(sub: argparse._SubParsersAction, db_parent: argparse.ArgumentParser) -> None:
    """Registers `journeys connect …` and `journeys connections …` (called from engine_cli.add_commands)."""
    connect = sub.add_parser("connect", help="Connect a shop: its orders, customers and checkouts flow in.")
    kinds = connect.add_subparsers(dest="kind", required=True, metavar="PLATFORM")
    text = ("Connect a Shopify shop through a custom app's Admin API access token (scopes read_orders, "
            "read_customers, read_checkouts). The connection is tested before it is saved.")
    p = kinds.add_parser("shopify", parents=[db_parent], help=text, description=text)
    p.add_argument("--shop", required=True, metavar="NAME.myshopify.com")
    p.add_argument("--token", metavar="TOKEN", help="the Admin API access token (shpat_…); asked when omitted")
    p.add_argument("--interval", type=_seconds, metavar="SECONDS",
                   help="seconds between polls, 10 to 86400 (default 60)")
    p.set_defaults(handler=cmd_connect)
    text = ("Connect a WooCommerce store through REST API keys with Read permission (WooCommerce → Settings → "
            "Advanced → REST API). The connection is tested before it is saved.")
    p = kinds.add_parser("woocommerce", parents=[db_parent], help=text, description=text)
    p.add_argument("--url", required=True, metavar="https://SHOP")
    p.add_argument("--key", metavar="ck_…", help="the consumer key; asked when omitted")
    p.add_argument("--secret", metavar="cs_…", help="the consumer secret; asked when omitted")
    p.add_argument("--interval", type=_seconds, metavar="SECONDS",
                   help="seconds between polls, 10 to 86400 (default 60)")
    p.set_defaults(handler=cmd_connect)

    text = "List the connected shops: status, last poll, last error, events received, cursors."
    connections = sub.add_parser("connections", parents=[db_parent], help=text, description=text)
    connections.set_defaults(handler=cmd_connections)
    actions = connections.add_subparsers(dest="connections_command", required=False, metavar="ACTION")
    p = actions.add_parser("list", parents=[db_parent], help=text, description=text)
    p.set_defaults(handler=cmd_connections)
    text = "Poll the connected shops now (or the one named); exit 1 when a poll failed."
    p = actions.add_parser("poll", parents=[db_parent], help=text, description=text)
    p.add_argument("name", nargs="?", metavar="NAME", help="a connection's id or address")
    p.set_defaults(handler=cmd_connections_poll)
    text = "Disconnect a shop: its secrets leave the keyring; the events it brought stay."
    p = actions.add_parser("remove", parents=[db_parent], help=text, description=text)
    p.add_argument("name", metavar="NAME", help="a connection's id or address")
    p.set_defaults(handler=cmd_connections_remove)
