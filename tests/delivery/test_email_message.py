"""What a recipient's mail program sees of a journey email: each test sends through a real local SMTP
server and reads what it received, parsed as a mail client would."""
from __future__ import annotations

import base64
from email.utils import parsedate_to_datetime

import pytest

from app.delivery.base import NotConfigured, Outgoing, Permanent
from app.delivery.email_message import WORD_JOINER, build_message, html_to_text, message_id_for
from app.delivery.settings import EmailSettings
from app.delivery.smtp import EmailChannel
from app.delivery.unsubscribe import read_token
from tests.delivery.smtp_servers import SmtpServer, smtp_ca, smtp_plain_server, smtp_server  # noqa: F401

KEY = b"k" * 32
CART_HTML = ('<html><head><style>p { color: red }</style></head><body><h1>Hello Zoë</h1>'
             '<p>Your <a href="https://shop.example/cart?id=7&amp;utm=mail">cart</a> is waiting.</p>'
             '<ul><li>Blue mug</li><li>Tea, 250 g</li></ul>'
             '<p><a href="https://shop.example/help">https://shop.example/help</a></p></body></html>')


def content(part) -> str:
    """A text part's content as a mail client shows it (CRLF on the wire, LF here)."""
    return part.get_content().replace("\r\n", "\n")


def outgoing(recipient: str = "ann@example.com", key: str = "run:1:send", **fields: object) -> Outgoing:
    values: dict[str, object] = dict(subject="Your cart", body_html=CART_HTML)
    values.update(fields)
    return Outgoing(message_id=1, idempotency_key=key, channel="email", recipient=recipient, **values)  # type: ignore[arg-type]


def send(server: SmtpServer, message: Outgoing, *, public_url: str = "", key: bytes | None = KEY,
         **settings: object):
    channel = EmailChannel(server.settings(**settings), server.password, public_url=public_url,
                           ssl_context=server.client_context() if server.ca else None, unsubscribe_key=key)
    try:
        sent = channel.send(message)
    finally:
        channel.close()
    return sent, server.received[-1]


def test_html_only_step_sends_multipart_alternative_with_a_generated_plain_part(smtp_plain_server):
    _, got = send(smtp_plain_server, outgoing())
    message = got.message
    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]          # plain first, the richest last (RFC 2046 5.1.4)
    plain = content(message.get_body(("plain",)))
    assert "Hello Zoë" in plain
    assert "cart (https://shop.example/cart?id=7&utm=mail)" in plain    # a link stays readable
    assert "  * Blue mug" in plain and "Tea, 250 g" in plain
    assert "color: red" not in plain and "<" not in plain
    assert plain.count("https://shop.example/help") == 1                 # a link whose text is its URL
    assert content(message.get_body(("html",))).strip() == CART_HTML


def test_a_written_plain_text_is_kept_and_text_only_is_one_part(smtp_plain_server):
    _, got = send(smtp_plain_server, outgoing(body_text="Hi Ann,\nyour cart waits."))
    assert content(got.message.get_body(("plain",))) == "Hi Ann,\nyour cart waits.\n"
    _, got = send(smtp_plain_server, outgoing(key="run:2:send", body_html=None, body_text="Only text"))
    assert got.message.get_content_type() == "text/plain"
    assert content(got.message) == "Only text\n"


def test_lines_starting_with_a_dot_and_long_lines_arrive_unchanged(smtp_plain_server):
    text = ".hidden line\n..two dots\n" + "x" * 3000 + "\n.\nend"
    _, got = send(smtp_plain_server, outgoing(body_html=None, body_text=text))
    assert content(got.message) == text + "\n"


def test_non_ascii_sender_name_subject_and_idn_domain_decode_correctly(smtp_plain_server):
    message = outgoing(sender="Zoë's Café <hello@café.example>", subject="Grüße aus dem Café ☕ — 20 % Rabatt")
    _, got = send(smtp_plain_server, message)
    sender = got.message["From"].addresses[0]
    assert sender.display_name == "Zoë's Café"
    # An IDN domain goes out in its ASCII form (RFC 5890), which every server and client takes.
    assert sender.addr_spec == "hello@xn--caf-dma.example"
    assert got.mail_from == "hello@xn--caf-dma.example"
    assert str(got.message["Subject"]) == "Grüße aus dem Café ☕ — 20 % Rabatt"
    raw_headers = got.data.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()          # RFC 2047 encoded words: no 8-bit bytes in the header
    assert b"=?utf-8?" in raw_headers


@pytest.mark.parametrize("subject", ["Ünïcödé " * 40, "日本語のお知らせ：カートに商品が残っています" * 5,
                                     "Emoji 🛒🎁 and a very long subject line " * 8, "Mixed = ? _ signs =?utf-8?q?x?= here"])
def test_long_and_unusual_subjects_arrive_as_written(smtp_plain_server, subject):
    _, got = send(smtp_plain_server, outgoing(subject=subject))
    assert str(got.message["Subject"]).replace(WORD_JOINER, "") == subject.strip()
    assert all(len(line) <= 998 for line in got.data.split(b"\r\n"))      # RFC 5322 2.1.1


def test_a_non_ascii_local_part_needs_smtputf8():
    with SmtpServer(security="none", users={}) as server:
        _, got = send(server, outgoing(recipient="zoë@café.example"))
        assert got.rcpt_tos == ["zoë@xn--caf-dma.example"]
        assert "SMTPUTF8" in got.mail_options
    with SmtpServer(security="none", users={}, smtputf8=False) as server:
        with pytest.raises(Permanent) as failure:
            send(server, outgoing(recipient="zoë@example.com"))
        assert failure.value.code == "smtputf8"
        assert server.received == []


def test_message_id_is_stable_for_one_key_and_differs_between_keys(smtp_plain_server):
    first, got1 = send(smtp_plain_server, outgoing(key="run:7:welcome"))
    again, got2 = send(smtp_plain_server, outgoing(key="run:7:welcome"))
    other, got3 = send(smtp_plain_server, outgoing(key="run:8:welcome"))
    assert got1.message_id == got2.message_id == first.provider_id == again.provider_id
    assert got3.message_id == other.provider_id != got1.message_id
    assert got1.message_id.endswith("@shop.example>")      # the sender's domain
    assert "run:7" not in got1.message_id                   # run ids are not disclosed
    assert message_id_for("run:7:welcome", "shop.example", KEY) == got1.message_id


def test_message_ids_differ_between_databases_for_the_same_key(smtp_plain_server):
    """Keys are run numbers and the journey file's step ids: a shop that starts a new database and imports
    the same journey makes "run:1:<step>" again. The same Message-ID would make Gmail hide the new email as
    a repeat of the old one: each database's secret keeps them apart (and stable within one database)."""
    old_db, _ = send(smtp_plain_server, outgoing(key="run:1:welcome"), key=bytes(32))
    new_db, _ = send(smtp_plain_server, outgoing(key="run:1:welcome"), key=bytes(range(32)))
    again, _ = send(smtp_plain_server, outgoing(key="run:1:welcome"), key=bytes(range(32)))
    assert old_db.provider_id != new_db.provider_id == again.provider_id


def test_date_is_present_and_current(smtp_plain_server):
    _, got = send(smtp_plain_server, outgoing())
    assert parsedate_to_datetime(str(got.message["Date"])).tzinfo is not None


def test_from_is_the_steps_sender_else_the_default(smtp_plain_server):
    _, got = send(smtp_plain_server, outgoing(sender="Sale <sale@shop.example>"))
    assert got.message["From"].addresses[0].addr_spec == "sale@shop.example"
    assert got.mail_from == "sale@shop.example"
    _, got = send(smtp_plain_server, outgoing(key="run:2:x"))
    assert got.message["From"].addresses[0].display_name == "Corner Shop"
    assert got.message["To"].addresses[0].addr_spec == "ann@example.com"


def test_reply_to_is_the_messages_else_the_settings_else_absent(smtp_plain_server):
    _, got = send(smtp_plain_server, outgoing(reply_to="Ann's Help <help@shop.example>"),
                  reply_to="desk@shop.example")
    assert got.message["Reply-To"].addresses[0].addr_spec == "help@shop.example"
    _, got = send(smtp_plain_server, outgoing(), reply_to="Zoë vom Kundendienst <desk@shop.example>")
    assert got.message["Reply-To"].addresses[0].addr_spec == "desk@shop.example"
    assert got.message["Reply-To"].addresses[0].display_name == "Zoë vom Kundendienst"
    _, got = send(smtp_plain_server, outgoing())
    assert got.message["Reply-To"] is None


def test_list_unsubscribe_mailto_and_one_click_https(smtp_plain_server):
    _, got = send(smtp_plain_server, outgoing(key="run:3:promo"), public_url="https://shop.example/",
                  unsubscribe_address="unsubscribe@shop.example")
    value = str(got.message["List-Unsubscribe"])
    mailto, https = [link.strip(" <>") for link in value.split(",")]
    assert mailto.startswith("mailto:unsubscribe@shop.example?subject=unsubscribe%20")
    assert https.startswith("https://shop.example/u/")
    token = https.rsplit("/", 1)[1]
    assert mailto.endswith("%20" + token)
    assert read_token(token, KEY) == "run:3:promo"
    assert str(got.message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_list_unsubscribe_mailto_only_without_public_url_and_none_without_either(smtp_plain_server):
    _, got = send(smtp_plain_server, outgoing(), unsubscribe_address="bye@shop.example")
    assert str(got.message["List-Unsubscribe"]).startswith("<mailto:bye@shop.example?subject=unsubscribe%20")
    assert got.message["List-Unsubscribe-Post"] is None       # one-click needs an HTTPS link
    _, got = send(smtp_plain_server, outgoing(), public_url="http://192.0.2.1:8080",
                  unsubscribe_address="bye@shop.example")
    assert "http://" not in str(got.message["List-Unsubscribe"])   # RFC 8058: HTTPS only
    sent, got = send(smtp_plain_server, outgoing(key="run:9:x"))   # nothing configured: still sent
    assert got.message["List-Unsubscribe"] is None and sent.provider_id == got.message_id


def test_test_sends_are_marked_in_the_subject(smtp_plain_server):
    _, got = send(smtp_plain_server, outgoing(subject="Your cart", test=True))
    assert str(got.message["Subject"]) == "[TEST] Your cart"
    _, got = send(smtp_plain_server, outgoing(subject="Your cart"))
    assert str(got.message["Subject"]) == "Your cart"


@pytest.mark.parametrize("subject", ["Hi\r\nBcc: evil@attacker.example", "Hi\nBcc: evil@attacker.example",
                                     "Hi\rBcc: evil@attacker.example", "Hi\u2028Bcc: evil@attacker.example",
                                     "Hi\x85Bcc: evil@attacker.example"])
def test_line_breaks_in_a_subject_cannot_add_headers(smtp_plain_server, subject):
    _, got = send(smtp_plain_server, outgoing(subject=subject))
    assert got.message["Bcc"] is None
    assert got.rcpt_tos == ["ann@example.com"]
    assert str(got.message["Subject"]) == "Hi Bcc: evil@attacker.example"


def encoded_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


@pytest.mark.parametrize("subject", [
    encoded_word("Hi\r\nBcc: evil@attacker.example"),
    "Sale " + encoded_word("\nBcc: evil@attacker.example") + " today",
    "=?utf-8?q?Hi=0D=0ABcc=3A_evil=40attacker=2Eexample?=",
    "=?iso-8859-1?Q?Hi=0ABcc:_evil@attacker.example?=",
])
def test_encoded_words_in_a_subject_cannot_add_headers_either(smtp_plain_server, subject):
    """RFC 2047 text in the data is shown as written: decoded, it would carry a line break into the header."""
    _, got = send(smtp_plain_server, outgoing(subject=subject))
    assert got.message["Bcc"] is None and got.rcpt_tos == ["ann@example.com"]
    assert str(got.message["Subject"]).replace(WORD_JOINER, "") == subject
    head = got.data.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc") for line in head.split(b"\r\n"))


def test_encoded_words_in_a_sender_name_stay_text(smtp_plain_server):
    name = encoded_word("Shop\r\nBcc: evil@attacker.example")
    _, got = send(smtp_plain_server, outgoing(sender=f'"{name}" <hello@shop.example>'))
    assert got.message["Bcc"] is None
    shown = got.message["From"].addresses[0].display_name.replace(WORD_JOINER, "")
    assert shown.replace(" ", "") == name       # (the email package folds a 60-letter word with a space)


@pytest.mark.parametrize("field, value", [
    ("recipient", "ann@example.com\r\nBcc: evil@attacker.example"),
    ("sender", "Shop\r\nBcc: evil@attacker.example <hello@shop.example>"),
    ("reply_to", "help@shop.example\nBcc: evil@attacker.example"),
])
def test_line_breaks_in_addresses_are_refused_before_connecting(smtp_plain_server, field, value):
    message = outgoing(**{field: value}) if field != "recipient" else outgoing(recipient=value)
    with pytest.raises(Permanent) as failure:
        send(smtp_plain_server, message)
    assert "line break" in failure.value.text
    assert smtp_plain_server.received == []


@pytest.mark.parametrize("recipient", ["not-an-address", "ann@", "@example.com", "ann@@example.com",
                                       "ann@example", "ann example@example.com", "a@b.example, c@d.example", ""])
def test_an_invalid_recipient_fails_permanently_and_says_why(smtp_plain_server, recipient):
    with pytest.raises(Permanent) as failure:
        send(smtp_plain_server, outgoing(recipient=recipient))
    assert "recipient" in failure.value.text
    assert smtp_plain_server.received == []


def test_an_invalid_step_sender_is_permanent_and_a_bad_default_sender_waits(smtp_plain_server):
    with pytest.raises(Permanent, match="step's sender"):
        send(smtp_plain_server, outgoing(sender="Shop <shop.example>"))
    with pytest.raises(NotConfigured, match="default sender"):
        send(smtp_plain_server, outgoing(), sender="hello at shop")
    with pytest.raises(NotConfigured, match="no sender"):
        send(smtp_plain_server, outgoing(), sender="")
    assert smtp_plain_server.received == []


def test_extra_headers_cannot_replace_the_messages_own():
    message = outgoing(headers={"From": "evil@attacker.example", "X-Campaign": "spring\r\nBcc: x@y.example",
                                "Bad Name": "x"})
    built = build_message(message, EmailSettings(host="h", sender="hello@shop.example")).message
    assert built["From"].addresses[0].addr_spec == "hello@shop.example"
    assert str(built["X-Campaign"]) == "spring Bcc: x@y.example"
    assert built["Bad Name"] is None and built["Bcc"] is None
    given = outgoing(headers={"list-unsubscribe": "<mailto:own@shop.example>"})
    built = build_message(given, EmailSettings(host="h", sender="hello@shop.example"),
                          extra_headers={"List-Unsubscribe": "<mailto:bye@shop.example>"}).message
    assert built.get_all("List-Unsubscribe") == ["<mailto:own@shop.example>"]     # the message's wins, once


@pytest.mark.parametrize("html, expected", [
    ('<p>Visit <a href="https://shop.example">our shop</a>.</p>', "Visit our shop (https://shop.example)."),
    ('<a href="mailto:help@shop.example">help@shop.example</a>', "help@shop.example"),
    ('<a href="#top">Back to top</a>', "Back to top"),
    ("<p>A &amp; B</p><p>C</p>", "A & B\n\nC"),
    ("", ""),
    # found in review: text right before a table ran into its first cell ("Your cartBlue mug")
    ('Your cart<table><tr><td>Blue mug</td><td>1</td></tr></table>', "Your cart\nBlue mug  1"),
    ('<a href="https://shop.example/c">Cart</a><TABLE><tr><td>Mug</td></tr></TABLE>',
     "Cart (https://shop.example/c)\nMug"),
    ('<p>Hi</p><table><tr><td>Mug</td></tr></table><p>Bye</p>', "Hi\n\nMug\n\nBye"),
])
def test_plain_text_from_html(html, expected):
    assert html_to_text(html).strip() == expected


def test_without_a_signing_key_the_mailto_link_still_goes_out(smtp_plain_server):
    _, got = send(smtp_plain_server, outgoing(), key=None, public_url="https://shop.example",
                  unsubscribe_address="bye@shop.example")
    assert str(got.message["List-Unsubscribe"]) == "<mailto:bye@shop.example?subject=unsubscribe>"
    assert got.message["List-Unsubscribe-Post"] is None


def test_encoded_words_in_extra_headers_stay_text():
    sneaky = "=?utf-8?b?" + base64.b64encode(b"x\r\nBcc: evil@attacker.example").decode() + "?="
    message = outgoing(headers={"X-Campaign": sneaky, "List-Unsubscribe": f"<mailto:a@b.example?subject={sneaky}>"})
    built = build_message(message, EmailSettings(host="h", sender="hello@shop.example")).message
    raw = built.as_bytes()
    assert b"\r\nBcc" not in raw and built["Bcc"] is None
