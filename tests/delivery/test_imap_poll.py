"""The mailbox poller against a real IMAP server (a private Dovecot): bounces, replies and unsubscribe
mails move the right message, once, and every mail stays in the mailbox, flagged, never deleted."""
from __future__ import annotations

import ssl
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select, update

from app.delivery import imap_poll
from app.delivery.imap_poll import PROCESSED, MailboxError, poll_mailbox
from app.delivery.dispatcher import Dispatcher
from app.delivery.settings import EmailSettings, ImapSettings, load_settings, save_settings
from app.delivery.smtp import EmailChannel
from app.engine.clock import SystemClock
from app.engine.engine import JourneyEngine
from app.engine.importers import import_contacts, parse_contacts
from app.engine.ingest import EventIn
from app.engine.outbox import RecordingChannel
from app.engine.simulator import install_journey
from app.store.db import open_database
from app.store.tables import contact_channels, consent_changes, events, messages, run_log

from ..engine.helpers import CONTACTS, chain, send_node, simple_journey
from . import mails
from .imap_server import Dovecot, dovecot  # noqa: F401 - the session fixture
from .smtp_servers import SmtpServer

FLAG = PROCESSED.encode()


@dataclass
class Shop:
    """A shop whose journey emailed ann and waits at "was the email <status> within 2 days?"."""

    db: Any
    engine: JourneyEngine
    server: Dovecot
    email_node: str
    message_id: int          # the outbox row of ann's email
    mid: str                 # the Message-ID the SMTP channel gave it (kept in provider_id)

    def settings(self, **changes: Any) -> ImapSettings:
        base = ImapSettings(host="127.0.0.1", port=self.server.tls_port, security="tls", username=self.server.user)
        return replace(base, **changes)

    def poll(self, **changes: Any) -> imap_poll.PollReport:
        return poll_mailbox(self.db, self.engine, self.settings(**changes), self.server.password,
                            ssl_context=self.server.ssl_context())

    def message(self) -> dict[str, Any]:
        with self.db.connect() as conn:
            return dict(conn.execute(select(messages).where(messages.c.id == self.message_id)).one()._mapping)

    def outcome(self) -> str | None:
        with self.db.connect() as conn:
            found = conn.execute(select(run_log.c.outcome).where(run_log.c.action == "branched")).scalars().all()
        assert len(found) <= 1
        return found[0] if found else None

    def events(self, kind: str) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(events).where(events.c.type == kind))]


@pytest.fixture
def server(dovecot: Dovecot) -> Iterator[Dovecot]:
    dovecot.clear()
    yield dovecot
    dovecot.clear()


def make_shop(url: str, server: Dovecot, status: str = "failed") -> Shop:
    db = open_database(url)
    now = datetime.now(timezone.utc)
    rows, problems = parse_contacts(CONTACTS)
    assert not problems
    import_contacts(db, rows, now)
    journey = simple_journey()
    email = send_node(journey, subject="Your cart is waiting")
    branch = journey.add_node("message_status", {"step": email.id, "status": status,
                                                 "window": {"amount": 2, "unit": "days"}})
    chain(journey, journey.trigger(), email, branch)
    yes, no = journey.add_node("tag", {"add": ["yes"]}), journey.add_node("tag", {"add": ["no"]})
    journey.connect(branch.id, yes.id, "yes")
    journey.connect(branch.id, no.id, "no")
    install_journey(db, journey, now)
    # A recording channel given on purpose: these tests stand in for the dispatcher's sending.
    engine = JourneyEngine(db, SystemClock(), RecordingChannel())
    engine.ingest([EventIn("ann", "cart_abandoned", now)])
    # The email really goes out: the dispatcher hands it to the SMTP channel, which records its Message-ID.
    with SmtpServer(security="none", users={}) as smtp:
        email_settings = EmailSettings(host=smtp.host, port=smtp.port, security="none", username="",
                                       sender=f"Corner Shop <{mails.SHOP}>", timeout_seconds=10.0)
        assert Dispatcher(db, lambda name: EmailChannel(email_settings, None), clock=SystemClock()).dispatch().sent == 1
        assert len(smtp.received) == 1
    with db.connect() as conn:
        row = conn.execute(select(messages.c.id, messages.c.provider_id)).one()
    mid = row.provider_id.strip("<>")
    settings = load_settings(db)
    settings.email.sender = f"Corner Shop <{mails.SHOP}>"
    settings.email.unsubscribe_address = mails.UNSUBSCRIBE
    save_settings(db, settings)
    return Shop(db, engine, server, email.id, row.id, mid)


@pytest.fixture
def shop(any_url: str, server: Dovecot) -> Iterator[Shop]:
    made = make_shop(any_url, server)
    yield made
    made.db.dispose()


BOUNCES: dict[str, Callable[[str], bytes]] = {
    "rfc3464 10.1": mails.rfc3464_simple, "rfc3464 10.2": mails.rfc3464_multi, "gmail": mails.gmail,
    "outlook": mails.outlook, "postfix": mails.postfix, "exim": mails.exim_plain, "qmail": mails.qmail,
    "broken": mails.broken_mime_bounce, "shift_jis": mails.shift_jis_bounce, "rfc6533 global": mails.global_dsn,
    "raw 8-bit": mails.raw_8bit_dsn}
CODES = {"rfc3464 10.1": "4.0.0", "rfc3464 10.2": "5.0.0", "gmail": "5.1.1", "outlook": "5.1.10",
         "postfix": "5.1.1", "exim": "5.1.1", "qmail": "5.7.1", "broken": "5.2.2", "shift_jis": "5.1.1",
         "rfc6533 global": "5.1.1", "raw 8-bit": "5.1.1"}


@pytest.mark.parametrize("name", BOUNCES)
def test_a_bounce_fails_the_original_message_and_its_branch_on_failed_says_yes(shop: Shop, name: str):
    shop.server.append(BOUNCES[name](shop.mid))
    report = shop.poll()
    assert (report.mails, report.failed, report.unmatched, report.stored) == (1, 1, 0, 1)
    message = shop.message()
    assert message["status"] == "failed" and message["failed_at"] is not None
    assert shop.outcome() == "yes"
    [event] = shop.events("message_failed")
    assert event["properties"]["message_id"] == shop.message_id
    assert event["properties"]["code"] == CODES[name]
    assert event["properties"]["error"]
    assert event["idempotency_key"].startswith("id:imap:")
    assert list(shop.server.mailbox().values()) == [(FLAG,)]      # still there, flagged, not \Seen


@pytest.mark.parametrize("build", [mails.reply, mails.broken_mime_reply, mails.latin1_reply])
def test_a_reply_marks_the_message_replied(any_url: str, server: Dovecot, build: Callable[[str], bytes]):
    shop = make_shop(any_url, server, status="replied")
    try:
        server.append(build(shop.mid))
        report = shop.poll()
        assert (report.replies, report.unmatched) == (1, 0)
        assert shop.message()["replied_at"] is not None and shop.message()["status"] == "replied"
        assert shop.outcome() == "yes"
    finally:
        shop.db.dispose()


def test_polling_again_changes_nothing_and_every_mail_stays_flagged_and_unread(shop: Shop):
    for raw in (mails.gmail(shop.mid), mails.reply(shop.mid), mails.out_of_office(shop.mid), mails.newsletter()):
        shop.server.append(raw)
    first = shop.poll()
    assert (first.mails, first.failed, first.replies, first.auto_replies, first.other) == (4, 1, 1, 1, 1)
    before = (shop.message(), shop.events("message_failed"), shop.events("message_replied"))
    again = shop.poll()
    assert (again.mails, again.stored) == (0, 0)
    assert (shop.message(), shop.events("message_failed"), shop.events("message_replied")) == before
    flags = shop.server.mailbox()
    assert len(flags) == 4 and all(f == (FLAG,) for f in flags.values())


def test_a_crash_between_storing_the_events_and_flagging_the_mails_stores_nothing_twice(
        shop: Shop, monkeypatch: pytest.MonkeyPatch):
    shop.server.append(mails.postfix(shop.mid))
    shop.server.append(mails.reply(shop.mid))
    from imapclient import IMAPClient

    real = IMAPClient.add_flags

    def crash(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("the connection dropped")

    monkeypatch.setattr(IMAPClient, "add_flags", crash)
    with pytest.raises(MailboxError) as caught:
        shop.poll()
    assert caught.value.stage == "connect" and "the connection dropped" in caught.value.detail
    assert shop.message()["status"] == "failed"
    assert all(f == () for f in shop.server.mailbox().values())       # nothing flagged
    monkeypatch.setattr(IMAPClient, "add_flags", real)
    report = shop.poll()
    assert (report.mails, report.stored, report.duplicates) == (2, 0, 2)
    assert len(shop.events("message_failed")) == 1 and len(shop.events("message_replied")) == 1
    assert all(f == (FLAG,) for f in shop.server.mailbox().values())


@pytest.mark.parametrize("build", [mails.rfc3464_delayed, mails.exim_delayed, mails.out_of_office,
                                   mails.outlook_automatic_reply])
def test_delay_warnings_and_automatic_answers_record_nothing(shop: Shop, build: Callable[[str], bytes]):
    shop.server.append(build(shop.mid))
    report = shop.poll()
    assert report.mails == 1 and report.stored == 0 and report.delayed + report.auto_replies == 1
    assert shop.message()["status"] == "sent" and shop.outcome() is None
    assert list(shop.server.mailbox().values()) == [(FLAG,)]


def test_mails_about_no_message_of_ours_are_flagged_and_counted_never_an_error(shop: Shop):
    shop.server.append(mails.gmail("someone-else@other.example"))
    shop.server.append(mails.reply("unknown@other.example"))
    shop.server.append(mails.unsubscribe("", sender="stranger@nowhere.example"))
    shop.server.append(b"\x00\xff garbage\r\n\r\n\x80\x81")
    report = shop.poll()
    assert (report.mails, report.unmatched, report.other, report.stored) == (4, 3, 1, 0)
    assert shop.message()["status"] == "sent"
    assert all(f == (FLAG,) for f in shop.server.mailbox().values())


def _email_consent(shop: Shop, contact: str) -> tuple[str | None, list[str]]:
    with shop.db.connect() as conn:
        state = conn.execute(select(contact_channels.c.state).where(
            contact_channels.c.contact_id == contact, contact_channels.c.channel == "email")).scalar()
        sources = conn.execute(select(consent_changes.c.source).where(
            consent_changes.c.contact_id == contact, consent_changes.c.channel == "email")).scalars().all()
    return state, list(sources)


@pytest.mark.parametrize("how", ["in-reply-to", "from"])
def test_a_mail_to_the_unsubscribe_address_opts_the_contact_out_of_email(shop: Shop, how: str):
    raw = (mails.unsubscribe("not-a-token", sender="someone@else.example", in_reply_to=shop.mid)
           if how == "in-reply-to" else mails.unsubscribe("", sender="Ann <ANN@example.com>"))
    shop.server.append(raw)
    report = shop.poll()
    assert (report.unsubscribes, report.unmatched) == (1, 0)
    state, sources = _email_consent(shop, "ann")
    assert state == "unsubscribed"
    assert any(f"mailbox {shop.server.user} (INBOX)" in s for s in sources)
    with shop.db.connect() as conn:     # SMS and WhatsApp consent untouched
        others = dict(conn.execute(select(contact_channels.c.channel, contact_channels.c.state).where(
            contact_channels.c.contact_id == "ann", contact_channels.c.channel != "email")).all())
    assert others == {"sms": "subscribed", "whatsapp": "subscribed"}
    [event] = shop.events("unsubscribed")
    assert event["properties"]["channel"] == "email"


def _real_token(shop: Shop, key: str | None = None) -> str:
    from app.delivery.unsubscribe import signing_key, unsubscribe_token

    with shop.db.connect() as conn:
        key = key or conn.execute(select(messages.c.idempotency_key)).scalar_one()
    return unsubscribe_token(key, signing_key(shop.db))


def test_a_real_signed_token_opts_out_the_contact_of_its_message_whoever_sends_it(shop: Shop):
    """The token the SMTP channel writes into List-Unsubscribe (app/delivery/unsubscribe.py, signed with the
    database's key) names ann's message, even when the request comes from an address that is no contact's
    (ann forwards her mail) or from another contact's address (cho's mail program)."""
    shop.server.append(mails.unsubscribe(_real_token(shop), sender="forwarded@elsewhere.example"))
    report = shop.poll()
    assert (report.unsubscribes, report.unmatched) == (1, 0)
    assert _email_consent(shop, "ann")[0] == "unsubscribed"
    assert shop.message()["unsubscribed_at"] is not None
    [event] = shop.events("unsubscribed")
    assert event["contact_id"] == "ann" and event["properties"]["message_id"] == shop.message_id


def test_a_token_in_a_mail_from_another_contacts_address_opts_out_only_the_tokens_contact(shop: Shop):
    shop.server.append(mails.unsubscribe(_real_token(shop), sender="Cho <cho@example.com>",
                                         message_id="unsub-cho@mail.example.com"))
    assert shop.poll().unsubscribes == 1
    assert _email_consent(shop, "ann")[0] == "unsubscribed"
    assert _email_consent(shop, "cho")[0] != "unsubscribed"


@pytest.mark.parametrize("forge", ["another key", "edited signature", "other database", "truncated"])
def test_a_forged_token_opts_out_nobody(shop: Shop, forge: str):
    """An attacker who read the token's shape cannot opt ann out: a token for a key signed with another
    secret, an edited signature, a token cut short. The request is then judged by its sender alone (a
    stranger here)."""
    from app.delivery.unsubscribe import unsubscribe_token

    with shop.db.connect() as conn:
        key = conn.execute(select(messages.c.idempotency_key)).scalar_one()
    good = _real_token(shop)
    token = {"another key": _real_token(shop, key + "x").split(".")[0] + "." + good.split(".")[1],
             "edited signature": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
             "other database": unsubscribe_token(key, b"\x01" * 32),
             "truncated": good[:-5]}[forge]
    shop.server.append(mails.unsubscribe(token, sender="attacker@evil.example"))
    report = shop.poll()
    assert (report.unsubscribes, report.unmatched) == (0, 1)
    assert _email_consent(shop, "ann")[0] != "unsubscribed"
    assert shop.message()["unsubscribed_at"] is None
    assert shop.events("unsubscribed") == []


def test_mails_older_than_the_first_email_sent_are_not_touched(shop: Shop):
    old = datetime.now(timezone.utc) - timedelta(days=30)
    client = shop.server.client()
    try:
        client.append("INBOX", mails.reply(shop.mid), msg_time=old)
    finally:
        client.logout()
    assert shop.poll().mails == 0
    assert list(shop.server.mailbox().values()) == [()]


def test_without_any_email_sent_the_mailbox_is_not_even_opened(any_url: str, server: Dovecot):
    db = open_database(any_url)
    try:
        report = poll_mailbox(db, JourneyEngine(db, SystemClock()), ImapSettings(
            host="127.0.0.1", port=1, username="x"), "pw")
        assert report.mails == 0
    finally:
        db.dispose()


# -- how it connects -------------------------------------------------------------------------------------


def test_starttls_and_plain_on_loopback_work(shop: Shop):
    shop.server.append(mails.reply(shop.mid, message_id="r-starttls@x"))
    assert shop.poll(port=shop.server.port, security="starttls").replies == 1
    shop.server.append(mails.newsletter())
    assert shop.poll(port=shop.server.port, security="none").other == 1


def test_plain_imap_to_another_host_is_refused_before_connecting(shop: Shop):
    with pytest.raises(MailboxError) as caught:
        shop.poll(host="imap.example.com", port=shop.server.port, security="none")
    assert caught.value.stage == "settings" and "unencrypted" in caught.value.detail


def test_a_wrong_password_says_so(shop: Shop):
    with pytest.raises(MailboxError) as caught:
        poll_mailbox(shop.db, shop.engine, shop.settings(), "wrong", ssl_context=shop.server.ssl_context())
    assert caught.value.stage == "auth" and "app password" in caught.value.detail


def test_an_untrusted_certificate_is_refused(shop: Shop):
    with pytest.raises(MailboxError) as caught:
        poll_mailbox(shop.db, shop.engine, shop.settings(), shop.server.password,
                     ssl_context=ssl.create_default_context())
    assert caught.value.stage == "tls"


def test_a_missing_folder_is_named(shop: Shop):
    with pytest.raises(MailboxError) as caught:
        shop.poll(folder="Bounces")
    assert caught.value.stage == "folder" and "Bounces" in caught.value.detail


def test_check_mailbox_reports_success_and_the_failing_stage(shop: Shop):
    ok = imap_poll.check_mailbox(shop.settings(), shop.server.password, ssl_context=shop.server.ssl_context())
    assert ok.ok
    refused = imap_poll.check_mailbox(shop.settings(), "nope", ssl_context=shop.server.ssl_context())
    assert (refused.ok, refused.stage) == (False, "auth")


def test_control_characters_in_a_mails_ids_and_sender_never_reach_the_database(shop: Shop):
    """A NUL in a Message-ID, In-Reply-To or From would make PostgreSQL refuse the whole batch, and the
    mailbox would be stuck on that mail for ever: such ids name nothing, such a sender is no address."""
    raw = (b"From: ann\x00@example.com\r\nTo: unsubscribe@shop.example\r\nSubject: unsubscribe x\x00y\r\n"
           b"Message-ID: <nul\x00id@x>\r\nIn-Reply-To: <" + shop.mid.encode() + b"\x00>\r\n\r\nbye\r\n")
    shop.server.append(raw)
    shop.server.append(mails.reply(shop.mid, message_id="fine@mail.example.com"))
    report = shop.poll()
    assert report.mails == 2 and report.errors == 0 and report.replies == 1
    assert all(f == (FLAG,) for f in shop.server.mailbox().values())


def test_one_mail_the_engine_cannot_take_does_not_hold_back_the_others(shop: Shop, monkeypatch: pytest.MonkeyPatch):
    shop.server.append(mails.gmail(shop.mid))
    shop.server.append(mails.reply(shop.mid))
    real = shop.engine.ingest

    def picky(items, *args: Any, **kwargs: Any):
        items = list(items)
        if any(e.type == "message_replied" for e in items):
            raise RuntimeError("cannot take this one")
        return real(items, *args, **kwargs)

    monkeypatch.setattr(shop.engine, "ingest", picky)
    report = shop.poll()
    assert (report.mails, report.failed, report.errors) == (1, 1, 1)
    assert "could not be recorded" in report.summary()
    flags = sorted(shop.server.mailbox().values())
    assert flags == [(), (FLAG,)]             # the reply waits for the next poll
    monkeypatch.setattr(shop.engine, "ingest", real)
    again = shop.poll()
    assert (again.mails, again.replies, again.errors) == (1, 1, 0)
    assert all(f == (FLAG,) for f in shop.server.mailbox().values())


def test_when_the_database_refuses_everything_nothing_is_flagged(shop: Shop, monkeypatch: pytest.MonkeyPatch):
    shop.server.append(mails.gmail(shop.mid))
    shop.server.append(mails.reply(shop.mid))

    def down(*args: Any, **kwargs: Any):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(shop.engine, "ingest", down)
    with pytest.raises(RuntimeError, match="database is gone"):
        shop.poll()
    assert all(f == () for f in shop.server.mailbox().values())


def test_each_mail_moves_the_message_it_names_and_no_other(shop: Shop):
    """Two customers emailed: a bounce of cho's email and a reply to ann's land on their own messages."""
    shop.engine.ingest([EventIn("cho", "cart_abandoned", datetime.now(timezone.utc))])
    with shop.db.begin() as conn:       # as the dispatcher records a sent email: its Message-ID kept
        cho_id = conn.execute(select(messages.c.id).where(messages.c.contact_id == "cho")).scalar_one()
        conn.execute(update(messages).where(messages.c.id == cho_id).values(
            status="sent", sent_at=datetime.now(timezone.utc), provider_id="cho-1@shop.example"))
    shop.server.append(mails.postfix("cho-1@shop.example"))
    shop.server.append(mails.reply(shop.mid))
    report = shop.poll()
    assert (report.failed, report.replies, report.unmatched) == (1, 1, 0)
    with shop.db.connect() as conn:
        status = dict(conn.execute(select(messages.c.contact_id, messages.c.status)).all())
    assert status == {"ann": "replied", "cho": "failed"}
    [failed] = shop.events("message_failed")
    assert (failed["contact_id"], failed["properties"]["message_id"]) == ("cho", cho_id)


def test_a_huge_reply_is_judged_by_its_headers_and_stays_as_it_was(shop: Shop, monkeypatch: pytest.MonkeyPatch):
    """A reply with a big attachment is not downloaded whole (its headers say it is a reply); a mail the
    shop had read and starred keeps both flags, and gets only the processed keyword."""
    monkeypatch.setattr(imap_poll, "LARGEST_BODY", 200_000)
    attachment = ("A" * 76 + "\r\n") * 4000         # ~300 kB of base64
    raw = mails.reply(shop.mid).replace(b"Content-Type: text/plain; charset=utf-8\r\n",
                                        b"Content-Type: multipart/mixed; boundary=\"B\"\r\n")
    raw = raw.split(b"\r\n\r\n", 1)[0] + (
        b"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nPhoto attached.\r\n--B\r\nContent-Type: image/jpeg\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + attachment.encode() + b"--B--\r\n")
    shop.server.append(raw, flags=(b"\\Seen", b"\\Flagged"))
    report = shop.poll()
    assert (report.mails, report.replies) == (1, 1)
    assert shop.message()["replied_at"] is not None
    [flags] = shop.server.mailbox().values()
    assert set(flags) == {b"\\Seen", b"\\Flagged", FLAG}


# -- Amazon SES replaces our Message-ID ------------------------------------------------------------------

SES_ID = "0102018c7f3a1b2c-1a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d-000000"


def ses_bounce(returned_id: str, list_unsubscribe: str = "") -> bytes:
    """An Amazon SES bounce (RFC 3464): the returned message carries the Message-ID SES gave it."""
    extra = f"List-Unsubscribe: {list_unsubscribe}\r\n" if list_unsubscribe else ""
    return (f"From: MAILER-DAEMON@amazonses.com\r\nTo: {mails.SHOP}\r\nSubject: Delivery Status Notification (Failure)\r\n"
            "Message-ID: <0102018c-bounce-1@eu-west-1.amazonses.com>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"SES\"\r\n\r\n"
            "--SES\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nAn error occurred while trying to deliver the mail "
            "to the following recipients:\r\nann@example.com\r\n"
            "--SES\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a4-17.smtp-out.eu-west-1.amazonses.com\r\n\r\n"
            "Action: failed\r\nFinal-Recipient: rfc822; ann@example.com\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
            "Status: 5.1.1\r\n\r\n"
            f"--SES\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Corner Shop <{mails.SHOP}>\r\nTo: ann@example.com\r\n"
            f"Subject: Your cart is waiting\r\nMessage-ID: <{returned_id}>\r\n{extra}\r\n--SES--\r\n").encode()


def test_with_amazon_ses_a_bounce_naming_the_id_ses_gave_finds_the_message(shop: Shop):
    """SES overrides the Message-ID we set and says its own in "250 Ok <id>"; the channel keeps that one,
    so SES's bounces (and replies, whose In-Reply-To is that id) find the message."""
    from app.delivery.smtp import ses_message_id

    provider_id = ses_message_id("email-smtp.eu-west-1.amazonaws.com", f"Ok {SES_ID}")
    assert provider_id == f"<{SES_ID}@eu-west-1.amazonses.com>"
    assert ses_message_id("email-smtp.us-east-1.amazonaws.com", f"Ok {SES_ID}") == f"<{SES_ID}@email.amazonses.com>"
    assert ses_message_id("smtp.gmail.com", f"Ok {SES_ID}") is None
    assert ses_message_id("email-smtp.eu-west-1.amazonaws.com", "2.0.0 Ok: queued as 4B1C2") is None
    with shop.db.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == shop.message_id).values(provider_id=provider_id))
    # a relay writing the region's domain otherwise still finds it by the id before the @
    shop.server.append(ses_bounce(f"{SES_ID}@email.amazonses.com"))
    report = shop.poll()
    assert (report.failed, report.unmatched) == (1, 0)
    assert shop.message()["status"] == "failed"
    [event] = shop.events("message_failed")
    assert event["properties"]["code"] == "5.1.1"


def test_a_bounce_whose_message_id_was_replaced_is_matched_by_its_unsubscribe_token(shop: Shop):
    """A provider that replaced the Message-ID (and did not tell us) still returns our List-Unsubscribe
    header: its signed token names the message. A made-up token names nothing."""
    token = _real_token(shop)
    shop.server.append(ses_bounce("rewritten-by-provider@relay.example",
                                  f"<mailto:{mails.UNSUBSCRIBE}?subject=unsubscribe%20{token}>"))
    report = shop.poll()
    assert (report.failed, report.unmatched) == (1, 0)
    assert shop.message()["status"] == "failed"


def test_a_bounce_with_a_forged_token_fails_nothing(shop: Shop):
    token = _real_token(shop)
    shop.server.append(ses_bounce("rewritten@relay.example", f"<https://shop.example/u/{token[:-3]}AAA>"))
    report = shop.poll()
    assert (report.failed, report.unmatched) == (0, 1)
    assert shop.message()["status"] == "sent"


def test_a_password_beyond_ascii_logs_in_and_a_wrong_one_says_auth_never_raises(server: Dovecot):
    """imaplib's LOGIN takes ASCII only ("pässwörd" raised UnicodeEncodeError out of Test connection and the
    poller): such credentials go with AUTHENTICATE PLAIN in UTF-8 (RFC 4616)."""
    from app.delivery.imap_connect import check_mailbox

    from .imap_server import UTF8_PASSWORD, UTF8_USER

    settings = ImapSettings(host="127.0.0.1", port=server.tls_port, security="tls", username=UTF8_USER)
    assert check_mailbox(settings, UTF8_PASSWORD, ssl_context=server.ssl_context()).ok
    wrong = check_mailbox(replace(settings, username=server.user), "pässwörd", ssl_context=server.ssl_context())
    assert (wrong.ok, wrong.stage) == (False, "auth")
