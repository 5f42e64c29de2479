"""The sender's mailbox, polled over IMAP: bounces, replies and unsubscribe mails become engine events.

What it reads: the mails of one folder (INBOX by default) that arrived since the day before the
first email this database ever queued and are not flagged `$JourneysProcessed` yet
(`SEARCH NOT KEYWORD $JourneysProcessed SINCE …`). Older mails cannot be about our messages and
are never touched.

What it does with each (classified in app/delivery/inbound.py):

- a bounce saying delivery failed for good (RFC 3464 `Action: failed`, or a plain-text bounce
  that says so) → `message_failed` on the original message, with `code` = the Status ("5.1.1")
  and `error` = the remote server's words; a delay warning → nothing;
- a reply naming one of our Message-IDs in In-Reply-To/References → `message_replied`;
  auto-replies (out of office…) → nothing;
- a mail to the unsubscribe address → an email opt-out: `unsubscribed` with `channel` "email" and
  `source` naming the mailbox, for the contact the token, the Message-ID it answers, or its From
  address names.

Our messages are found by `messages.provider_id`, where the SMTP channel keeps the Message-ID it
set (with or without angle brackets). Each event's idempotency key is `imap:<Message-ID of the
incoming mail>` (`imap:<folder>:<UIDVALIDITY>:<UID>` for a mail without one), so polling again —
or after a crash between the events' commit and the flag — changes nothing.

What it changes in the mailbox: only the `$JourneysProcessed` keyword, set after the events of a
batch of mails have been committed, on every mail read (matched or not). It never deletes, moves
or expunges, and never changes `\\Seen`: bodies are fetched with BODY.PEEK, so a reply the shop has
not read stays unread in its mail program.
"""
from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Sequence

from imapclient.exceptions import IMAPClientError
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import ColumnElement

from app.engine.ingest import EventIn
from app.store.app_settings import get_setting
from app.store.tables import contacts, messages

from .imap_connect import MailboxError, check_mailbox, close_client, connect, server_text  # noqa: F401 - re-exported
from .inbound import AUTO_REPLY, BOUNCE, DELAYED, FAILED, REPLY, UNSUBSCRIBE, Incoming, classify
from .settings import EmailSettings, ImapSettings, load_settings
from .unsubscribe import KEY_SETTING, read_token

PROCESSED = "$JourneysProcessed"
"""The IMAP keyword (RFC 3501 flag-keyword) set on every mail the poller has dealt with."""
CHUNK = 50                     # mails fetched, classified and ingested per round
LARGEST_BODY = 10_000_000      # bytes: a larger mail is judged by its headers (replies with attachments)

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    """What one poll did: mails read, and what they were."""

    mails: int = 0            # mails read (each is flagged afterwards)
    failed: int = 0           # bounces that failed one of our messages
    delayed: int = 0          # delay warnings (nothing recorded)
    replies: int = 0
    auto_replies: int = 0     # out-of-office and other automatic answers (nothing recorded)
    unsubscribes: int = 0
    unmatched: int = 0        # bounces, replies and unsubscribe mails about no message or contact of ours
    other: int = 0            # anything else (newsletters, customers writing afresh)
    stored: int = 0           # events stored
    duplicates: int = 0       # events stored before (a mail read again after a crash)
    errors: int = 0           # mails whose events could not be stored: left unflagged, read again next time

    def summary(self) -> str:
        return (f"{self.mails} mail{'' if self.mails == 1 else 's'} read: {self.failed} bounced, "
                f"{self.replies} repl{'y' if self.replies == 1 else 'ies'}, {self.unsubscribes} unsubscribe "
                f"request{'' if self.unsubscribes == 1 else 's'}, {self.delayed} delay warning"
                f"{'' if self.delayed == 1 else 's'}, {self.auto_replies} automatic repl"
                f"{'y' if self.auto_replies == 1 else 'ies'}, {self.unmatched} about no message of ours, "
                f"{self.other} other" + (f"; {self.errors} could not be recorded and will be read again"
                                         if self.errors else ""))


# -- matching mails to our messages -------------------------------------------------------------------


def _by_message_ids(conn: Any, ids: Sequence[str]) -> dict[str, Any]:
    """Our email messages whose provider_id is one of `ids` (with or without <>), by bare id."""
    wanted = [i for i in ids if i][:50]
    if not wanted:
        return {}
    forms = wanted + [f"<{i}>" for i in wanted]
    found: ColumnElement[bool] = messages.c.provider_id.in_(forms)
    # Amazon SES replaces our Message-ID with its own (app/delivery/smtp.py `ses_message_id`); its
    # domain names the region, which a relay may write differently: the id before the @ decides.
    ses = {i.rpartition("@")[0].lower(): i for i in wanted
           if i.lower().endswith("amazonses.com") and re.fullmatch(r"[0-9a-fA-F-]{20,80}@[\w.-]+", i)}
    for local in list(ses)[:10]:
        found = or_(found, messages.c.provider_id.like(f"<{local}@%amazonses.com>"))
    rows = conn.execute(select(messages.c.id, messages.c.contact_id, messages.c.provider_id,
                               messages.c.idempotency_key)
                        .where(messages.c.channel == "email", found)).all()
    result = {str(r.provider_id).strip("<>"): r for r in rows}
    for r in rows:
        local = str(r.provider_id).strip("<>").rpartition("@")[0].lower()
        if local in ses:
            result.setdefault(ses[local], r)
    return result


def _first(conn: Any, ids: Sequence[str]) -> Any:
    found = _by_message_ids(conn, ids)
    return next((found[i] for i in ids if i in found), None)


def _by_token(conn: Any, token: str) -> Any:
    """The message an unsubscribe token names: its idempotency key, when the token's signature is this
    database's (app/delivery/unsubscribe.py); None for a forged, edited or foreign token, or when no
    key was ever made (then no token was ever given out)."""
    if not token:
        return None
    stored = get_setting(conn, KEY_SETTING)
    if not stored:
        return None
    try:
        key = read_token(token, bytes.fromhex(stored))
    except ValueError:         # a stored key that is not hex: no token can be checked against it
        return None
    if not key:
        return None
    return conn.execute(select(messages.c.id, messages.c.contact_id).where(
        messages.c.idempotency_key == key, messages.c.channel == "email")).first()


def _contacts_with(conn: Any, address: str) -> list[str]:
    if not address:
        return []
    return list(conn.execute(select(contacts.c.id).where(func.lower(contacts.c.email) == address.lower())
                             .order_by(contacts.c.id).limit(20)).scalars())


def _events(conn: Any, mail: Incoming, key: str, at: datetime, source: str, report: PollReport) -> list[EventIn]:
    """The engine events one classified mail becomes (see the module's docstring), counting it."""
    base = {"channel": "email", "source": source}
    if mail.kind in (FAILED, REPLY):
        row = _first(conn, mail.refers_to) or (_by_token(conn, mail.token) if mail.kind == FAILED else None)
        if row is None or row.contact_id is None:
            report.unmatched += 1
            return []
        if mail.kind == FAILED:
            report.failed += 1
            props = {**base, "message_id": row.id, "code": mail.code or None,
                     "error": mail.error or None, "recipient": mail.recipient or None}
            return [EventIn(row.contact_id, "message_failed", at, {k: v for k, v in props.items() if v}, key)]
        report.replies += 1
        return [EventIn(row.contact_id, "message_replied", at, {**base, "message_id": row.id}, key)]
    if mail.kind == UNSUBSCRIBE:
        row = _by_token(conn, mail.token) or _first(conn, mail.refers_to)
        if row is not None and row.contact_id is not None:
            report.unsubscribes += 1
            return [EventIn(row.contact_id, "unsubscribed", at, {**base, "message_id": row.id}, key)]
        found = _contacts_with(conn, mail.sender)
        if not found:
            report.unmatched += 1
            return []
        report.unsubscribes += 1
        # Several contacts with this address: every one opts out (when in doubt, an opt-out is widest).
        return [EventIn(cid, "unsubscribed", at, dict(base), key if i == 0 else f"{key}#{cid}")
                for i, cid in enumerate(found)]
    if mail.kind == DELAYED:
        report.delayed += 1
    elif mail.kind == AUTO_REPLY:
        report.auto_replies += 1
    elif mail.kind == BOUNCE:
        report.unmatched += 1
    else:
        report.other += 1
    return []


# -- polling ---------------------------------------------------------------------------------------------


def _since(db: Engine) -> datetime | None:
    """The day before the first email this database queued (IMAP SINCE counts whole days), or None."""
    with db.connect() as conn:
        first = conn.execute(select(func.min(messages.c.created_at)).where(messages.c.channel == "email")).scalar()
    if first is None:
        return None
    return first - timedelta(days=1)


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _arrived(value: Any, now: datetime) -> datetime:
    """When the mail reached the mailbox (IMAP INTERNALDATE, set by the server, not by the sender),
    never later than now."""
    if not isinstance(value, datetime):
        return now
    at = value if value.tzinfo else value.astimezone()      # imapclient gives local time without a zone
    at = at.astimezone(timezone.utc)
    return min(at, now)


def poll_mailbox(db: Engine, engine: Any, settings: ImapSettings, password: str, *,
                 ssl_context: ssl.SSLContext | None = None) -> PollReport:
    """Reads the mailbox once (see the module's docstring) and returns what it found.

    `db`: the database; `engine`: the JourneyEngine whose `ingest` takes the events; `settings`,
    `password`: the mailbox; `ssl_context`: to trust another certificate authority (tests).
    Raises MailboxError when the mailbox cannot be reached, logged into or opened, or cannot keep
    the processed flag; a database failure propagates with no mail flagged (the next poll reads
    those mails again, and their events are not stored twice)."""
    report = PollReport()
    since = _since(db)
    if since is None:
        return report                 # no email ever sent: nothing that comes back can be about one
    email_settings: EmailSettings = load_settings(db).email
    own = [a for a in (email_settings.sender, email_settings.reply_to, settings.username) if a]
    source = f"mailbox {settings.username} ({settings.folder})"
    client = connect(settings, password, ssl_context=ssl_context)
    try:
        try:
            selected = client.select_folder(settings.folder)
        except Exception as exc:   # noqa: BLE001 - the server's refusal, said plainly
            raise MailboxError("folder", f"The folder {settings.folder!r} cannot be opened: {server_text(exc)}.") from None
        permanent = selected.get(b"PERMANENTFLAGS", ())
        if b"\\*" not in permanent and PROCESSED.encode() not in permanent:
            raise MailboxError("flags", f"The folder {settings.folder!r} does not keep custom flags, so processed "
                                        "mails cannot be marked; choose another folder or server.")
        validity = selected.get(b"UIDVALIDITY", 0)
        uids = sorted(client.search(["NOT", "KEYWORD", PROCESSED, "SINCE", since.date()]))
        for chunk in _chunks(uids, CHUNK):
            _poll_chunk(db, engine, client, chunk, f"{settings.folder}:{validity}", email_settings, own, source,
                        report)
    except (OSError, IMAPClientError) as exc:
        # What was committed stays (and its mails are flagged, or their events are found again next time).
        raise MailboxError("connect", f"The connection to {settings.host} failed while reading the mailbox "
                                      f"({server_text(exc) or type(exc).__name__}); {report.mails} mail(s) were "
                                      "dealt with, the rest are read at the next poll.") from None
    finally:
        close_client(client)
    return report


def _poll_chunk(db: Engine, engine: Any, client: Any, uids: Sequence[int], place: str, email: EmailSettings,
                own: list[str], source: str, report: PollReport) -> None:
    sizes = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"])
    small = [u for u in uids if int(sizes.get(u, {}).get(b"RFC822.SIZE", 0)) <= LARGEST_BODY]
    large = [u for u in uids if u not in small]
    bodies: dict[int, bytes] = {}
    if small:
        bodies.update({u: d.get(b"BODY[]", b"") for u, d in client.fetch(small, ["BODY.PEEK[]"]).items()})
    if large:
        bodies.update({u: d.get(b"BODY[HEADER]", b"") for u, d in client.fetch(large, ["BODY.PEEK[HEADER]"]).items()})
    now = datetime.now(timezone.utc)
    per_mail: dict[int, list[EventIn]] = {}
    with db.connect() as conn:
        for uid in uids:
            if uid not in bodies:
                continue           # expunged meanwhile by someone else: nothing to flag
            mail = classify(bodies[uid] or b"", unsubscribe_address=email.unsubscribe_address, own_addresses=own)
            key = f"imap:<{mail.message_id}>" if mail.message_id else f"imap:{place}:{uid}"
            at = _arrived(sizes.get(uid, {}).get(b"INTERNALDATE"), now)
            per_mail[uid] = _events(conn, mail, key, at, source, report)
    read = _ingest(engine, per_mail, report)
    report.mails += len(read)
    if read:
        # Only now: the events are committed. A crash before this line leaves the mails unflagged,
        # and reading them again stores nothing twice (the events' keys are already there).
        client.add_flags(read, [PROCESSED], silent=True)


def _ingest(engine: Any, per_mail: dict[int, list[EventIn]], report: PollReport) -> list[int]:
    """Ingests the events of a chunk of mails in one go; the UIDs whose events are committed.

    When that raises, mail by mail: one mail the engine cannot take (whatever the reason) must not
    hold back the others. It stays unflagged, is logged, and is tried again at the next poll; when
    every mail fails (the database is gone, say) the error goes up as it came."""
    events = [e for found in per_mail.values() for e in found]
    try:
        if events:
            _count(engine.ingest(events), report)
        return list(per_mail)
    except Exception as first:        # noqa: BLE001 - retried mail by mail below
        if len([u for u, found in per_mail.items() if found]) <= 1:
            raise
        log.warning("mailbox: a batch of events failed (%s); trying mail by mail", first)
    done: list[int] = []
    failed: list[BaseException] = []
    for uid, found in per_mail.items():
        try:
            if found:
                _count(engine.ingest(found), report)
            done.append(uid)
        except Exception as exc:      # noqa: BLE001 - this mail is left for the next poll
            log.exception("mailbox: the events of mail UID %s could not be stored; it is read again next time", uid)
            failed.append(exc)
            report.errors += 1
    if failed and not any(per_mail[u] for u in done):
        raise failed[0]
    return done


def _count(done: Any, report: PollReport) -> None:
    report.stored += done.stored
    report.duplicates += done.duplicates


def poll_configured(db: Engine, engine: Any) -> PollReport | None:
    """One poll with the stored settings and the keyring's (or JOURNEYS_IMAP_PASSWORD's) password:
    what the live engine's job calls every few minutes. None when the mailbox is not set up (no host,
    user or password); raises MailboxError when it is but cannot be read."""
    from .secrets import IMAP_PASSWORD, get_secret

    settings = load_settings(db).imap
    password = get_secret(IMAP_PASSWORD)
    if not settings.configured or not password:
        return None
    return poll_mailbox(db, engine, settings, password)
