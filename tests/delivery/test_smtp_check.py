""""Test connection" for email: each stage that can fail is named, with a sentence saying what to do."""
from __future__ import annotations

import socket

import pytest
import trustme

from app.delivery.settings import EmailSettings
from app.delivery.smtp import check_email
from tests.delivery.smtp_servers import (SmtpServer, client_context, smtp_ca, smtp_plain_server,  # noqa: F401
                                         smtp_server, smtp_tls_server)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("which", ["smtp_server", "smtp_tls_server"])
def test_a_working_set_up_passes_every_stage(request, which):
    server: SmtpServer = request.getfixturevalue(which)
    result = check_email(server.settings(), server.password, ssl_context=server.client_context())
    assert result.ok, result.detail
    assert "hello@shop.example" in result.detail and "logged in as shop" in result.detail
    assert server.received == []                   # nothing was sent


def test_an_unknown_host_fails_at_dns():
    result = check_email(EmailSettings(host="smtp.no-such-host.invalid", username="shop", sender="hello@shop.example"), "pw")
    assert (result.ok, result.stage) == (False, "dns")
    assert "smtp.no-such-host.invalid" in result.detail and "spelling" in result.detail


def test_a_wrong_port_fails_at_connect(smtp_server):
    result = check_email(smtp_server.settings(port=free_port()), smtp_server.password,
                         ssl_context=smtp_server.client_context())
    assert (result.ok, result.stage) == (False, "connect")
    assert "587" in result.detail                  # what to try instead


def test_starttls_on_the_implicit_tls_port_fails_at_connect_with_a_hint(smtp_tls_server):
    settings = smtp_tls_server.settings(security="starttls", timeout_seconds=1)
    result = check_email(settings, smtp_tls_server.password, ssl_context=smtp_tls_server.client_context())
    assert (result.ok, result.stage) == (False, "connect")
    assert "choose TLS" in result.detail


def test_implicit_tls_on_a_starttls_port_fails_at_tls(smtp_server):
    result = check_email(smtp_server.settings(security="tls"), smtp_server.password,
                         ssl_context=smtp_server.client_context())
    assert (result.ok, result.stage) == (False, "tls")


@pytest.mark.parametrize("which", ["smtp_server", "smtp_tls_server"])
def test_an_untrusted_certificate_fails_at_tls_and_is_named(request, which):
    server: SmtpServer = request.getfixturevalue(which)
    result = check_email(server.settings(), server.password, ssl_context=client_context(trustme.CA()))
    assert (result.ok, result.stage) == (False, "tls")
    assert "certificate" in result.detail and "not trust" in result.detail


def test_a_certificate_for_another_name_fails_at_tls(smtp_ca):
    with SmtpServer(security="starttls", ca=smtp_ca, names=("mail.other.example",)) as server:
        result = check_email(server.settings(), server.password, ssl_context=server.client_context())
    assert (result.ok, result.stage) == (False, "tls")
    assert "mismatch" in result.detail and "host name" in result.detail


def test_a_server_without_starttls_fails_at_tls(smtp_plain_server):
    result = check_email(smtp_plain_server.settings(security="starttls", username="shop"), "secret")
    assert (result.ok, result.stage) == (False, "tls")
    assert "STARTTLS" in result.detail


def test_a_wrong_password_fails_at_auth(smtp_server):
    result = check_email(smtp_server.settings(), "wrong", ssl_context=smtp_server.client_context())
    assert (result.ok, result.stage) == (False, "auth")
    assert "535" in result.detail and "password" in result.detail


def test_an_unknown_user_fails_at_auth(smtp_tls_server):
    result = check_email(smtp_tls_server.settings(username="nobody"), smtp_tls_server.password,
                         ssl_context=smtp_tls_server.client_context())
    assert (result.ok, result.stage) == (False, "auth")
    assert "nobody" in result.detail


def test_a_refused_sender_fails_at_sender(smtp_server):
    result = check_email(smtp_server.settings(sender="Shop <refused@shop.example>"), smtp_server.password,
                         ssl_context=smtp_server.client_context())
    assert (result.ok, result.stage) == (False, "sender")
    assert "not verified" in result.detail and "refused@shop.example" in result.detail


@pytest.mark.parametrize("changes, password, words", [
    ({"host": ""}, "pw", "No SMTP server"),
    ({"security": "none"}, "pw", "unencrypted"),
    ({"username": ""}, "pw", "user name"),
    ({"sender": ""}, "pw", "No default sender"),
    ({"sender": "hello at shop"}, "pw", "not a valid email address"),
    ({"port": 0}, "pw", "not a port"),
])
def test_settings_that_cannot_work_fail_before_connecting(changes, password, words):
    settings = EmailSettings(host="127.0.0.1", port=587, username="shop", sender="hello@shop.example")
    for key, value in changes.items():
        setattr(settings, key, value)
    result = check_email(settings, password)
    assert (result.ok, result.stage) == (False, "settings")
    assert words in result.detail
