"""The email channel against real local SMTP servers: it sends over STARTTLS and TLS with a login,
keeps its connection, and gives every failure the class the dispatcher acts on."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
import trustme

from app.delivery.base import NotConfigured, Outgoing, Permanent, Transient, Uncertain
from app.delivery.settings import EmailSettings
from app.delivery.smtp import EmailChannel
from tests.delivery.smtp_servers import (PASSWORD, USER, SmtpServer, client_context, smtp_ca,  # noqa: F401
                                         smtp_plain_server, smtp_server, smtp_tls_server)


def outgoing(recipient: str = "ann@example.com", key: str = "run:1:send") -> Outgoing:
    return Outgoing(message_id=1, idempotency_key=key, channel="email", recipient=recipient,
                    subject="Hello", body_text="Hi there")


def channel_for(server: SmtpServer, password: str | None = None, **settings: object) -> EmailChannel:
    return EmailChannel(server.settings(**settings), password if password is not None else server.password,
                        ssl_context=server.client_context() if server.ca else None)


def _settings(port: int, host: str = "127.0.0.1") -> EmailSettings:
    return EmailSettings(host=host, port=port, security="none", sender="hello@shop.example", timeout_seconds=5)


def free_port() -> int:
    """A port on 127.0.0.1 on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("which", ["smtp_server", "smtp_tls_server"])
def test_sends_over_tls_with_a_login(request, which):
    server: SmtpServer = request.getfixturevalue(which)
    channel = channel_for(server)
    sent = channel.send(outgoing())
    channel.close()
    [got] = server.received
    assert got.user == USER                       # logged in (with a non-ASCII password)
    assert any(ch not in "abcdefghijklmnopqrstuvwxyz0123456789-" for ch in PASSWORD)
    assert got.rcpt_tos == ["ann@example.com"] and got.mail_from == "hello@shop.example"
    assert sent.provider_id == got.message_id and sent.status == "sent"


def test_one_connection_carries_many_messages_and_is_reopened_when_the_server_closed_it(smtp_server):
    channel = channel_for(smtp_server)
    for i in range(3):
        channel.send(outgoing(key=f"run:{i}:send"))
    assert smtp_server.connections == 1           # one connection for three messages
    smtp_server.drop_idle()                                      # the server ends the idle connection
    channel.send(outgoing(key="run:9:send"))                     # reopened, sent once
    channel.close()
    assert sorted(smtp_server.by_message_id().values()) == [1, 1, 1, 1]
    assert smtp_server.connections == 2


@pytest.mark.parametrize("code", ["421", "450", "451", "452"])
def test_4xx_replies_are_transient_with_the_code(smtp_server, code):
    channel = channel_for(smtp_server)
    with pytest.raises(Transient) as failure:
        channel.send(outgoing(f"{code}@example.com"))
    assert failure.value.code == code
    channel.send(outgoing("next@example.com"))                   # the channel goes on with the next one
    channel.close()
    assert [r.rcpt_tos for r in smtp_server.received] == [["next@example.com"]]


@pytest.mark.parametrize("code, words", [("550", "No such user"), ("552", "Mailbox full"),
                                         ("553", "not allowed"), ("554", "rejected by policy")])
def test_5xx_replies_are_permanent_with_code_and_text(smtp_server, code, words):
    channel = channel_for(smtp_server)
    with pytest.raises(Permanent) as failure:
        channel.send(outgoing(f"{code}@example.com"))
    assert failure.value.code == code and words in failure.value.text
    channel.send(outgoing("next@example.com"))
    channel.close()
    assert len(smtp_server.received) == 1


def test_replies_after_the_data_are_classified_too(smtp_plain_server):
    channel = channel_for(smtp_plain_server)
    with pytest.raises(Transient) as greylisted:
        channel.send(outgoing("data-451@example.com"))
    with pytest.raises(Permanent) as spam:
        channel.send(outgoing("data-554@example.com"))
    channel.close()
    assert (greylisted.value.code, spam.value.code) == ("451", "554")
    assert smtp_plain_server.received == []


def test_a_connection_dropped_before_the_data_is_transient(smtp_plain_server):
    channel = channel_for(smtp_plain_server)
    with pytest.raises(Transient):
        channel.send(outgoing("drop-before-data@example.com"))
    assert smtp_plain_server.swallowed == [] and smtp_plain_server.received == []
    channel.send(outgoing())                                     # a new connection for the next message
    channel.close()
    assert len(smtp_plain_server.received) == 1


def test_a_timeout_before_the_data_is_transient(smtp_plain_server):
    channel = channel_for(smtp_plain_server, timeout_seconds=0.5)
    with pytest.raises(Transient) as failure:
        channel.send(outgoing("hang-before-data@example.com"))
    assert failure.value.code == "timeout"
    assert smtp_plain_server.swallowed == [] and smtp_plain_server.received == []
    channel.send(outgoing())                                     # the next message on a new connection
    channel.close()
    assert len(smtp_plain_server.received) == 1


def test_a_connection_dropped_after_the_data_is_uncertain(smtp_server):
    channel = channel_for(smtp_server)
    with pytest.raises(Uncertain) as failure:
        channel.send(outgoing("drop-after-data@example.com"))
    assert failure.value.code == "dropped_after_data"
    assert len(smtp_server.swallowed) == 1          # the server did get it: resending would duplicate it
    channel.send(outgoing())
    channel.close()
    assert len(smtp_server.received) == 1


def test_a_server_silent_after_the_data_is_uncertain(smtp_plain_server):
    channel = channel_for(smtp_plain_server, timeout_seconds=0.5)
    with pytest.raises(Uncertain):
        channel.send(outgoing("hang-after-data@example.com"))
    channel.close()


def test_a_refused_connection_is_transient():
    channel = EmailChannel(_settings(free_port()), None)
    with pytest.raises(Transient) as failure:
        channel.send(outgoing())
    assert failure.value.code == "connection_refused"


def test_an_unknown_host_is_transient():
    channel = EmailChannel(_settings(587, host="smtp.no-such-host.invalid"), None)
    with pytest.raises(Transient) as failure:
        channel.send(outgoing())
    assert failure.value.code == "dns"


def test_a_wrong_password_waits_as_not_configured(smtp_server):
    channel = channel_for(smtp_server, password="wrong")
    with pytest.raises(NotConfigured) as failure:
        channel.send(outgoing())
    assert failure.value.code == "535" and "password" in failure.value.text
    assert smtp_server.received == []


def test_a_password_is_never_sent_unencrypted(smtp_plain_server):
    channel = channel_for(smtp_plain_server, password="secret")
    with pytest.raises(NotConfigured) as failure:
        channel.send(outgoing())
    assert "unencrypted" in failure.value.text
    assert smtp_plain_server.connections == 0       # it did not even connect


def test_starttls_is_required_when_chosen(smtp_plain_server):
    """A server (or someone in between) that does not offer STARTTLS gets no password and no message."""
    channel = EmailChannel(smtp_plain_server.settings(security="starttls", username=USER), "secret")
    with pytest.raises(NotConfigured) as failure:
        channel.send(outgoing())
    assert failure.value.code == "no_starttls"
    assert smtp_plain_server.received == []


def test_an_untrusted_certificate_waits_as_not_configured(smtp_server):
    channel = EmailChannel(smtp_server.settings(), smtp_server.password, ssl_context=client_context(trustme.CA()))
    with pytest.raises(NotConfigured) as failure:
        channel.send(outgoing())
    assert failure.value.code == "tls" and "certificate" in failure.value.text


def test_a_refused_sender_keeps_the_messages_waiting_with_the_servers_words():
    """An unverified sender is refused for every message alike: failing them one by one would lose the
    whole journey's mail to a setting (reviewed: it was Permanent). They wait until the sender is fixed."""
    with SmtpServer(security="none", users={}) as server:
        channel = channel_for(server, sender="Shop <refused@shop.example>")
        with pytest.raises(NotConfigured) as failure:
            channel.send(outgoing())
        assert failure.value.code == "553" and "not verified" in failure.value.text
        assert "refused@shop.example" in failure.value.text


def test_a_server_in_its_own_process_counts_what_it_received(tmp_path):
    """The kill test and the benchmark run the server apart from the sender: it reports by Message-ID."""
    import json
    import ssl
    import subprocess
    import sys

    server = subprocess.Popen([sys.executable, "-m", "tests.delivery.smtp_servers", "--security", "starttls",
                               "--ca-file", str(tmp_path / "ca.pem")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        info = json.loads(server.stdout.readline())
        settings = EmailSettings(host="127.0.0.1", port=info["port"], username=info["user"],
                                 sender="hello@shop.example", timeout_seconds=10)
        channel = EmailChannel(settings, info["password"], ssl_context=ssl.create_default_context(cafile=info["ca_file"]))
        for key in ("run:1:a", "run:2:a", "run:1:a"):
            channel.send(outgoing(key=key))
        channel.close()
        server.stdin.close()
        report = json.loads(server.stdout.readline())
    finally:
        server.wait(30)
    assert report["received"] == 3
    assert sorted(report["message_ids"].values()) == [1, 2]
