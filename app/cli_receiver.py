"""`journeys receiver token|status|dead-letters|secret`: the HTTP receiver from the command line.

- `token [--rotate]` prints the receiver's token (made on first use); `--rotate` replaces it.
- `status` prints the listen address, the public URL, which signing secrets are set and the inbox.
- `dead-letters [--retry] [--limit N]` lists what was accepted but could not be applied, with the
  reason; `--retry` applies it all again. Exit 1 when some remain.
- `secret shopify|woocommerce|meta` reads a webhook signing secret from standard input and keeps it
  in the keyring (or says which environment variable to set where there is none).
- `set [--listen HOST:PORT] [--public-url URL] [--meta-verify-token TEXT]`.
The receiver itself runs in `journeys serve` (or `python -m app.intake`).
"""
from __future__ import annotations

import argparse
import sys
from datetime import timezone

from app.cli import PROBLEMS, CommandError, _open_engine

OK = 0
_SECRETS = {"shopify": "shopify_webhook_secret", "woocommerce": "woocommerce_webhook_secret",
            "meta": "meta_app_secret"}


def cmd_token(args: argparse.Namespace) -> int:
    from app.intake.config import receiver_token, rotate_token

    db = _open_engine(args.db)
    print(rotate_token(db) if args.rotate else receiver_token(db))
    return OK


def cmd_status(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from app.delivery.secrets import TWILIO_AUTH_TOKEN, secret_source
    from app.delivery.settings import PUBLIC_URL_KEY
    from app.intake.config import listen_address
    from app.store.app_settings import get_setting
    from app.store.tables import intake_requests

    db = _open_engine(args.db, write=False)
    with db.connect() as conn:
        public = get_setting(conn, PUBLIC_URL_KEY) or "(none: only this computer can reach the receiver)"
        counts = dict(conn.execute(select(intake_requests.c.status, func.count())
                                   .group_by(intake_requests.c.status)).all())
    print(f"Listens on: {listen_address(db)}")
    print(f"Public URL: {public}")
    for name, key in (*_SECRETS.items(), ("twilio", TWILIO_AUTH_TOKEN)):
        print(f"{name} signing secret: {secret_source(key)}")
    print("Inbox: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("new", "done", "dead")))
    return OK


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from app.engine.engine import JourneyEngine
    from app.intake.dead_letters import dead_letters, retry

    db = _open_engine(args.db)
    if args.retry:
        done = retry(JourneyEngine(db))
        print(f"Retried {done.tried} dead letter(s): {done.applied} applied, {done.still_dead} set aside again")
    total, found = dead_letters(db, args.limit)
    if not total:
        print("No dead letters: everything the receiver accepted was applied.")
        return OK
    print(f"{total} dead letter(s){f' (the newest {len(found)})' if len(found) < total else ''}:")
    for item in found:
        print(f"  {item.received_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC  [{item.kind}] {item.what}: {item.reason}")
    print("Fix the cause (a missing email, a secret, a journey), then: journeys receiver dead-letters --retry")
    return PROBLEMS


def cmd_secret(args: argparse.Namespace) -> int:
    from app.delivery.secrets import SecretsUnavailable, set_secret
    import app.intake.config  # noqa: F401 - registers the receiver's secrets' environment variables

    value = sys.stdin.readline().strip()
    if not value:
        raise CommandError("no secret on standard input; e.g. `printf %s SECRET | journeys receiver secret shopify`")
    try:
        set_secret(_SECRETS[args.provider], value)
    except SecretsUnavailable as exc:
        raise CommandError(str(exc)) from None
    print(f"Kept the {args.provider} signing secret in the keyring")
    return OK


def cmd_set(args: argparse.Namespace) -> int:
    from app.delivery.settings import PUBLIC_URL_KEY
    from app.intake.config import LISTEN_KEY, META_VERIFY_KEY, parse_listen
    from app.store.app_settings import set_setting

    db = _open_engine(args.db)
    if args.listen is not None:
        try:
            parse_listen(args.listen)
        except ValueError as exc:
            raise CommandError(f"--listen {exc}") from None
        set_setting(db, LISTEN_KEY, args.listen.strip() or None)
    if args.public_url is not None:
        set_setting(db, PUBLIC_URL_KEY, args.public_url.strip().rstrip("/") or None)
    if args.meta_verify_token is not None:
        set_setting(db, META_VERIFY_KEY, args.meta_verify_token.strip() or None)
    print("Saved")
    return OK


def add_receiver_commands(sub: argparse._SubParsersAction, db_parent: argparse.ArgumentParser) -> None:
    receiver = sub.add_parser("receiver", help="The HTTP receiver: its token, status, dead letters, secrets.")
    actions = receiver.add_subparsers(dest="receiver_command", required=True, metavar="ACTION")
    p = actions.add_parser("token", parents=[db_parent], help="Print the receiver's token (--rotate: a new one).")
    p.add_argument("--rotate", action="store_true", help="replace the token; senders need the new one")
    p.set_defaults(handler=cmd_token)
    p = actions.add_parser("status", parents=[db_parent], help="Listen address, public URL, secrets, inbox.")
    p.set_defaults(handler=cmd_status)
    p = actions.add_parser("dead-letters", parents=[db_parent],
                           help="What was accepted but not applied, with the reason; --retry applies it again.")
    p.add_argument("--retry", action="store_true", help="apply every dead letter again (after fixing the cause)")
    p.add_argument("--limit", type=int, default=50, help="how many to list (default 50)")
    p.set_defaults(handler=cmd_dead_letters)
    p = actions.add_parser("secret", parents=[db_parent], help="Keep a webhook signing secret (read from stdin).")
    p.add_argument("provider", choices=sorted(_SECRETS))
    p.set_defaults(handler=cmd_secret)
    p = actions.add_parser("set", parents=[db_parent], help="Set the listen address, public URL or Meta verify token.")
    p.add_argument("--listen", metavar="HOST:PORT")
    p.add_argument("--public-url", metavar="URL", help="where the receiver is reachable from the internet ('' clears)")
    p.add_argument("--meta-verify-token", metavar="TEXT")
    p.set_defaults(handler=cmd_set)
