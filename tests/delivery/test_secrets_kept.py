"""A session as a shop owner runs it — secrets stored, channels tested, messages dispatched to providers
that refuse — and afterwards the secrets are nowhere but the keyring: not in the database file, not in
the log file, not in anything printed. Some providers quote what they were sent in their errors (Graph's
"Malformed access token EAAG…"), so those words are redacted before they are kept or shown."""
from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest

from app.delivery.base import NotConfigured, Outgoing
from app.delivery.channels import live_dispatcher
from app.delivery.meta import MetaChannel, check_meta
from app.delivery.settings import DeliverySettings, save_settings
from app.logfile import setup_logging
from tests.engine.helpers import run_cli

from .fake_meta import FakeMeta
from .http_fake import Recorded, Reply
from .keyrings import _no_secret_variables, file_keyring  # noqa: F401 - fixtures
from .provider_servers import FakeTwilio, meta_settings, twilio, twilio_settings  # noqa: F401
from .shop import add_message, make_shop

TOKEN = "EAAGsecret0f7b2c9d4e1a8b3c6d5e0f9a2b7c4d1e8f3a6b9c2d5"
TWILIO_TOKEN = "twilio-token-7d1e8f3a6b9c2d5e0f9a"


class QuotingMeta(FakeMeta):
    """Graph as it answered a bad token for years: the error quotes the token it was given."""

    def answer(self, record: Recorded) -> Reply | None:
        given = record.headers.get("Authorization", "").removeprefix("Bearer ")
        if given != self.access_token:
            return 400, {"error": {"message": f"Malformed access token {given}", "type": "OAuthException",
                                   "code": 190, "fbtrace_id": "Aabc"}}, {}
        return super().answer(record)


@pytest.fixture
def quoting_meta():
    with QuotingMeta() as server:
        yield server


def test_a_token_quoted_in_a_providers_error_is_redacted(quoting_meta: QuotingMeta) -> None:
    message = Outgoing(message_id=1, idempotency_key="k", channel="whatsapp", recipient="+4915123456789",
                       whatsapp_template={"name": "hello_world", "language": "en_US", "variables": []})
    with pytest.raises(NotConfigured) as failure:
        MetaChannel(meta_settings(quoting_meta), TOKEN).send(message)
    assert TOKEN not in str(failure.value) and "[redacted]" in failure.value.text
    result = check_meta(meta_settings(quoting_meta), TOKEN)
    assert (result.ok, result.stage) == (False, "auth") and TOKEN not in result.detail


def _feed(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text + "\n"))


def test_after_a_session_the_secrets_are_only_in_the_keyring(tmp_path: Path, capsys, monkeypatch, file_keyring,
                                                             quoting_meta: QuotingMeta, twilio: FakeTwilio) -> None:
    db_file = tmp_path / "shop.sqlite3"
    log_file = tmp_path / "journeys.log"
    shop = make_shop(str(db_file))
    settings = DeliverySettings()
    settings.sms.twilio = twilio_settings(twilio)
    settings.sms.rate_per_second = 0
    settings.whatsapp.provider = "meta"
    settings.whatsapp.meta = meta_settings(quoting_meta)
    settings.whatsapp.rate_per_second = 0
    save_settings(shop.db, settings)
    setup_logging(log_file)
    try:
        db = ["--db", str(db_file)]
        _feed(monkeypatch, TOKEN)
        assert run_cli(capsys, "channels", "secret", "meta_access_token", *db)[0] == 0
        _feed(monkeypatch, TWILIO_TOKEN)            # not the account's: Twilio refuses it
        assert run_cli(capsys, "channels", "secret", "twilio_auth_token", *db)[0] == 0
        printed = []
        for args in (("channels", "show"), ("channels", "test", "whatsapp"), ("channels", "test", "sms"),
                     ("send-test", "Cart rescue", "Cart SMS", "--to", "+4915123456789"),
                     ("channels", "set", "whatsapp", f"token={TOKEN}"), ("outbox", "status")):
            code, out, err = run_cli(capsys, *args, *db)
            printed.append(out + err)
        add_message(shop.db, "m1", "queued", channel="whatsapp", recipient="+4915123456789", subject=None,
                    whatsapp_template={"name": "hello_world", "language": "en_US", "variables": []})
        add_message(shop.db, "m2", "queued", channel="sms", recipient="+4915123456789", subject=None)
        done = live_dispatcher(shop.db).dispatch()
        assert set(done.not_configured) == {"sms", "whatsapp"}          # both refused the set-up: they wait
        code, out, err = run_cli(capsys, "outbox", "send", "--once", *db)
        printed.append(out + err)
    finally:
        for handler in list(logging.getLogger("app").handlers):
            if getattr(handler, "baseFilename", None) == str(log_file.resolve()):
                logging.getLogger("app").removeHandler(handler)
                handler.close()
    shop.db.dispose()
    assert log_file.exists(), "the refused set-up is logged"
    for secret in (TOKEN, TWILIO_TOKEN):
        for text in printed:
            assert secret not in text
        assert secret.encode() not in log_file.read_bytes()
        for part in tmp_path.glob("shop.sqlite3*"):           # the database and any -wal/-journal beside it
            assert secret.encode() not in part.read_bytes(), part


def test_a_token_pasted_with_a_line_break_or_spaces_around_it_works(twilio: FakeTwilio) -> None:
    from app.delivery.twilio import TwilioChannel, check_twilio

    for pasted in (twilio.auth_token + "\n", f"  {twilio.auth_token}\r\n", "\t" + twilio.auth_token):
        sent = TwilioChannel(twilio_settings(twilio), pasted, whatsapp=False).send(
            Outgoing(message_id=1, idempotency_key="k", channel="sms", recipient="+4915123456789", body_text="Hi"))
        assert sent.provider_id and check_twilio(twilio_settings(twilio), pasted).ok


@pytest.mark.parametrize("damage", ["{t}\nEAAG", "{t} x", "{t}’", "“{t}”", "{t}\x00"])
def test_a_token_with_a_character_no_token_has_waits_and_is_never_quoted(quoting_meta: QuotingMeta,
                                                                         damage: str) -> None:
    """A bad paste (a line break or space inside, curly quotes) used to break the request itself: the
    message was marked unknown although nothing left, and httpx's words quoting the header — the token —
    were kept with it."""
    token = damage.format(t=quoting_meta.access_token)
    message = Outgoing(message_id=1, idempotency_key="k", channel="whatsapp", recipient="+4915123456789",
                       body_text="Hi")
    with pytest.raises(NotConfigured) as failure:
        MetaChannel(meta_settings(quoting_meta), token).send(message)
    assert quoting_meta.access_token not in str(failure.value) and "paste it alone" in failure.value.text
    result = check_meta(meta_settings(quoting_meta), token)
    assert (result.ok, result.stage) == (False, "settings") and quoting_meta.access_token not in result.detail
    assert not quoting_meta.posts()
