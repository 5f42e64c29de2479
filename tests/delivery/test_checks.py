""""Test connection" and open_channel judge the settings first, each missing piece said with where to
set it; a secret missing on a headless machine names its environment variable."""
from __future__ import annotations

import socket

import pytest

from app.delivery.base import NotConfigured
from app.delivery.channels import open_channel
from app.delivery.checks import check_channel, secret_state, settings_problem
from app.delivery.secrets import IMAP_PASSWORD, META_ACCESS_TOKEN, SMTP_PASSWORD, TWILIO_AUTH_TOKEN, set_secret
from app.delivery.settings import DeliverySettings

SID = "AC" + "0123456789abcdef" * 2


def email_ready(**changes) -> DeliverySettings:
    settings = DeliverySettings()
    settings.email.host, settings.email.sender, settings.email.username = "smtp.shop.example", "hello@shop.example", "hello"
    for key, value in changes.items():
        setattr(settings.email, key, value)
    return settings


def sms_ready() -> DeliverySettings:
    settings = DeliverySettings()
    settings.sms.twilio.account_sid, settings.sms.twilio.sender = SID, "+15005550006"
    return settings


@pytest.mark.parametrize("name,fix,words", [
    ("email", {}, "No SMTP server is set"),
    ("email", {"email.host": "smtp.shop.example"}, "No default sender (From) is set"),
    ("sms", {}, "No Twilio account SID is set"),
    ("sms", {"sms.twilio.account_sid": SID}, "Neither a sender number nor a Messaging Service SID is set"),
    ("whatsapp", {"whatsapp.twilio.account_sid": SID}, "Neither a sender number"),
    ("whatsapp", {"whatsapp.provider": "meta"}, "No WhatsApp phone number ID (Meta) is set"),
    ("imap", {"imap.host": "imap.shop.example"}, "No mailbox user name is set"),
])
def test_missing_settings_are_said_with_where_to_set_them(name, fix, words):
    settings = DeliverySettings()
    for path, value in fix.items():
        target = settings
        *parents, last = path.split(".")
        for part in parents:
            target = getattr(target, part)
        setattr(target, last, value)
    result = check_channel(settings, name)
    assert not result.ok and result.stage == "settings"
    assert result.detail.startswith(words) and "Settings → Channels" in result.detail
    assert f"journeys channels set {name}" in result.detail
    if name != "imap":          # the mailbox is no sending channel
        with pytest.raises(NotConfigured) as caught:
            open_channel(settings, name)
        assert str(caught.value).startswith(words)


@pytest.mark.parametrize("settings,name,variable", [
    (email_ready(), "email", "JOURNEYS_SMTP_PASSWORD"), (sms_ready(), "sms", "JOURNEYS_TWILIO_AUTH_TOKEN")])
def test_a_missing_secret_names_the_command_and_the_variable(settings, name, variable, file_keyring):
    result = check_channel(settings, name)
    assert not result.ok and result.stage == "settings"
    assert variable in result.detail and "journeys channels secret" in result.detail
    with pytest.raises(NotConfigured) as caught:
        open_channel(settings, name)
    assert variable in str(caught.value)


@pytest.mark.parametrize("settings,name,variable", [
    (email_ready(), "email", "JOURNEYS_SMTP_PASSWORD"), (sms_ready(), "sms", "JOURNEYS_TWILIO_AUTH_TOKEN")])
def test_headless_without_a_keyring_the_message_says_which_variable_to_set(settings, name, variable, no_keyring):
    result = check_channel(settings, name)
    assert not result.ok and result.stage == "settings"
    assert "no keyring" in result.detail and variable in result.detail
    with pytest.raises(Exception) as caught:
        set_secret(SMTP_PASSWORD, "x")
    assert "JOURNEYS_SMTP_PASSWORD" in str(caught.value)
    for secret, var in ((SMTP_PASSWORD, "JOURNEYS_SMTP_PASSWORD"), (IMAP_PASSWORD, "JOURNEYS_IMAP_PASSWORD"),
                        (TWILIO_AUTH_TOKEN, "JOURNEYS_TWILIO_AUTH_TOKEN"), (META_ACCESS_TOKEN, "JOURNEYS_META_ACCESS_TOKEN")):
        state, words = secret_state(secret)
        assert state == "unavailable" and var in words


def test_an_environment_variable_makes_a_headless_machine_work(monkeypatch, no_keyring):
    monkeypatch.setenv("JOURNEYS_SMTP_PASSWORD", "from-env")
    assert settings_problem(email_ready(), "email") is None
    assert secret_state(SMTP_PASSWORD) == ("environment", "from environment (JOURNEYS_SMTP_PASSWORD)")


def test_a_secret_typed_but_not_saved_is_used_for_the_test(no_keyring):
    assert settings_problem(email_ready(), "email", secret="typed") is None


def test_no_password_over_an_unencrypted_connection(monkeypatch):
    monkeypatch.setenv("JOURNEYS_SMTP_PASSWORD", "x")
    result = check_channel(email_ready(security="none", port=25), "email")
    assert not result.ok and result.stage == "settings" and "unencrypted" in result.detail
    with pytest.raises(NotConfigured):
        open_channel(email_ready(security="none", port=25), "email")


def test_a_relay_without_user_needs_no_password(no_keyring):
    assert settings_problem(email_ready(username=""), "email") is None


def test_an_unknown_channel_is_not_configured():
    with pytest.raises(NotConfigured):
        open_channel(DeliverySettings(), "fax")
    assert check_channel(DeliverySettings(), "fax").stage == "settings"


def test_the_mailbox_check_says_which_stage_failed(monkeypatch):
    monkeypatch.setenv("JOURNEYS_IMAP_PASSWORD", "x")
    settings = DeliverySettings()
    settings.imap.host, settings.imap.username = "no-such-host.invalid", "hello"
    result = check_channel(settings, "imap")
    assert not result.ok and result.stage == "dns" and "no-such-host.invalid" in result.detail
    with socket.socket() as probe:            # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.imap.host, settings.imap.port = "127.0.0.1", port
    result = check_channel(settings, "imap")
    assert not result.ok and result.stage == "connect" and str(port) in result.detail


def test_a_real_smtp_connection_test_against_a_local_server():
    from .smtp_servers import SmtpServer

    with SmtpServer(security="none", users={}) as server:
        settings = email_ready(host=server.host, port=server.port, security="none", username="")
        assert check_channel(settings, "email").ok
    result = check_channel(settings, "email")         # the server is gone now
    assert not result.ok and result.stage == "connect"
