"""`journeys channels show|set|secret|test`, as a user runs them: values checked with the key named
(exit 2, nothing changed), settings round-trip, secrets never printed nor taken from argv, and a test of
a channel that is not set up says what to set."""
from __future__ import annotations

import io
import sys

import pytest

from app.delivery.secrets import SMTP_PASSWORD, TWILIO_AUTH_TOKEN, get_secret
from app.delivery.settings import load_settings
from app.store.db import open_database
from tests.engine.helpers import run_cli

SECRET = "pa55-w0rd-that-must-never-show"


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "shop.sqlite3")


def _settings(db: str):
    engine = open_database(db)
    try:
        return load_settings(engine)
    finally:
        engine.dispose()


def test_set_then_show_round_trip(db, capsys):
    code, out, err = run_cli(capsys, "channels", "set", "email", "host=SMTP.Gmail.com", "port=465", "security=tls",
                             "username=hello@shop.example", "sender=Corner Shop <hello@shop.example>", "--db", db)
    assert code == 0, err
    assert "email port: 587 → 465" in out
    code, out, err = run_cli(capsys, "channels", "set", "sms", "account_sid=AC" + "0123456789abcdef" * 2,
                             "sender=+1 500 555 0006", "--db", db)
    assert code == 0, err
    code, out, _ = run_cli(capsys, "channels", "set", "general", "public_url=https://shop.example/js/", "--db", db)
    assert code == 0
    settings = _settings(db)
    assert (settings.email.host, settings.email.port, settings.email.security) == ("smtp.gmail.com", 465, "tls")
    assert settings.email.sender == "Corner Shop <hello@shop.example>"
    assert settings.sms.twilio.sender == "+15005550006" and settings.public_url == "https://shop.example/js"
    code, out, _ = run_cli(capsys, "channels", "show", "--db", db)
    assert code == 0
    lines = [line.split(None, 1) for line in out.splitlines() if line.startswith("  ")]
    shown = {}
    for key, *value in lines:
        shown.setdefault(key, value[0].strip() if value else "")
    assert shown["host"] == "smtp.gmail.com" and shown["port"] == "465" and shown["security"] == "tls"
    assert "Corner Shop <hello@shop.example>" in out and "+15005550006" in out and "https://shop.example/js" in out


@pytest.mark.parametrize("section,pair,key", [
    ("email", "port=70000", "port"), ("email", "port=smtp", "port"), ("imap", "port=0", "port"),
    ("email", "security=ssl", "security"), ("email", "sender=not an address", "sender"),
    ("email", "reply_to=shop@", "reply_to"), ("sms", "sender=0151 2345678", "sender"),
    ("whatsapp", "sender=+1234", "sender"), ("whatsapp", "provider=vonage", "provider"),
    ("general", "public_url=http://shop.example", "public_url"), ("sms", "account_sid=AC1", "account_sid"),
    ("email", "hostname=x", "hostname"),
])
def test_a_bad_value_names_its_key_exits_2_and_changes_nothing(db, capsys, section, pair, key):
    good = {"email": "host=smtp.shop.example", "imap": "folder=Archive", "sms": "rate_per_second=3",
            "whatsapp": "rate_per_second=3", "general": "retry_hours=48"}[section]
    code, _, err = run_cli(capsys, "channels", "set", section, good, pair, "--db", db)
    assert code == 2
    assert f"{section} {key}:" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "nothing was changed" in err
    assert _settings(db) == _settings_default()          # the good value was not stored either


def _settings_default():
    from app.delivery.settings import DeliverySettings

    return DeliverySettings()


def test_a_pair_without_equals_is_a_usage_error(db, capsys):
    code, _, err = run_cli(capsys, "channels", "set", "email", "host", "--db", db)
    assert code == 2 and "KEY=VALUE" in err


def test_a_secret_on_the_command_line_is_refused_and_not_echoed(db, capsys):
    code, out, err = run_cli(capsys, "channels", "set", "email", f"password={SECRET}", "--db", db)
    assert code == 2 and "journeys channels secret" in err
    assert SECRET not in out + err


def test_secret_from_stdin_goes_to_the_keyring_and_is_never_printed(db, capsys, monkeypatch, file_keyring):
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    code, out, err = run_cli(capsys, "channels", "secret", "smtp_password", "--db", db)
    assert code == 0, err
    assert get_secret(SMTP_PASSWORD) == SECRET          # the newline is not part of it
    assert SECRET not in out + err
    assert (file_keyring / "python_keyring").is_dir()    # in the temporary keyring, not the user's
    code, out, err = run_cli(capsys, "channels", "show", "--db", db)
    assert "SMTP password" in out and "stored in keyring" in out and SECRET not in out + err
    code, out, _ = run_cli(capsys, "channels", "secret", "smtp", "--delete", "--db", db)
    assert code == 0 and get_secret(SMTP_PASSWORD) is None


def test_an_empty_secret_is_refused(db, capsys, monkeypatch, file_keyring):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    code, _, err = run_cli(capsys, "channels", "secret", "twilio_auth_token", "--db", db)
    assert code == 2 and "--delete" in err
    assert get_secret(TWILIO_AUTH_TOKEN) is None


def test_an_unknown_secret_name_lists_the_names(db, capsys):
    code, _, err = run_cli(capsys, "channels", "secret", "api_key", "--db", db)
    assert code == 2 and "smtp_password" in err and "meta_access_token" in err


def test_show_names_the_environment_variable_as_the_source_never_the_value(db, capsys, monkeypatch):
    monkeypatch.setenv("JOURNEYS_TWILIO_AUTH_TOKEN", SECRET)
    code, out, err = run_cli(capsys, "channels", "show", "--db", db)
    assert code == 0
    assert "from environment (JOURNEYS_TWILIO_AUTH_TOKEN)" in out and SECRET not in out + err


def test_without_a_keyring_show_and_secret_name_the_environment_variables(db, capsys, monkeypatch, no_keyring):
    code, out, _ = run_cli(capsys, "channels", "show", "--db", db)
    assert code == 0 and "JOURNEYS_SMTP_PASSWORD" in out and "JOURNEYS_META_ACCESS_TOKEN" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    code, out, err = run_cli(capsys, "channels", "secret", "imap_password", "--db", db)
    assert code == 2 and "JOURNEYS_IMAP_PASSWORD" in err and SECRET not in out + err
    assert "Traceback" not in err


@pytest.mark.parametrize("channel,words", [
    ("email", "No SMTP server is set"), ("sms", "No Twilio account SID is set"),
    ("whatsapp", "No Twilio account SID is set"), ("imap", "No IMAP server is set")])
def test_channels_test_without_settings_says_what_to_set(db, capsys, channel, words):
    code, out, err = run_cli(capsys, "channels", "test", channel, "--db", db)
    assert code == 1
    assert f"{channel}: failed at settings: {words}" in err
    assert "Settings → Channels" in err and f"journeys channels set {channel if channel != 'imap' else 'imap'}" in err


def test_channels_test_names_the_missing_secret_and_its_variable(db, capsys, file_keyring):
    run_cli(capsys, "channels", "set", "email", "host=smtp.shop.example", "sender=hello@shop.example",
            "username=hello@shop.example", "--db", db)
    code, _, err = run_cli(capsys, "channels", "test", "email", "--db", db)
    assert code == 1 and "No SMTP password is stored" in err and "JOURNEYS_SMTP_PASSWORD" in err
    run_cli(capsys, "channels", "set", "whatsapp", "provider=meta", "--db", db)
    code, _, err = run_cli(capsys, "channels", "test", "whatsapp", "--db", db)
    assert code == 1 and "phone number ID" in err and "journeys channels set whatsapp phone_number_id" in err
    run_cli(capsys, "channels", "set", "whatsapp", "phone_number_id=1234567890", "--db", db)
    code, _, err = run_cli(capsys, "channels", "test", "whatsapp", "--db", db)
    assert code == 1 and "Meta access token" in err and "JOURNEYS_META_ACCESS_TOKEN" in err


def test_a_password_over_no_encryption_is_refused_before_connecting(db, capsys, monkeypatch):
    monkeypatch.setenv("JOURNEYS_SMTP_PASSWORD", SECRET)
    run_cli(capsys, "channels", "set", "email", "host=smtp.shop.example", "sender=hello@shop.example",
            "username=hello@shop.example", "security=none", "port=25", "--db", db)
    code, out, err = run_cli(capsys, "channels", "test", "email", "--db", db)
    assert code == 1 and "failed at settings" in err and "STARTTLS" in err and SECRET not in out + err


def test_channels_test_on_an_unknown_channel_is_a_usage_error(db, capsys):
    code, _, err = run_cli(capsys, "channels", "test", "fax", "--db", db)
    assert code == 2 and "invalid choice" in err


def test_a_port_that_does_not_suit_the_security_gets_a_note(db, capsys):
    code, out, _ = run_cli(capsys, "channels", "set", "email", "security=tls", "--db", db)
    assert code == 0 and "note: port 587 usually goes with STARTTLS, not tls" in out
    code, out, _ = run_cli(capsys, "channels", "set", "email", "port=465", "--db", db)
    assert code == 0 and "note" not in out
