"""What each kind of incoming mail is read as (no server needed: the poller's tests use Dovecot)."""
from __future__ import annotations

import pytest

from app.delivery.dsn import message_ids
from app.delivery.inbound import (AUTO_REPLY, BOUNCE, DELAYED, FAILED, OTHER, REPLY, UNSUBSCRIBE, classify)

from . import mails

MID = "journeys.41.7f3a@shop.example"


@pytest.mark.parametrize(("build", "code", "error", "recipient"), [
    (mails.rfc3464_simple, "4.0.0", "426 connection timed out", "louisl@larry.slip.umd.edu"),
    (mails.rfc3464_multi, "5.0.0", "550 'arathib@vnet.IBM.COM' is not a registered gateway user",
     "arathib@vnet.ibm.com"),
    (mails.gmail, "5.1.1", "550-5.1.1 The email account that you tried to reach does not exist.",
     "nobody@example.org"),
    (mails.outlook, "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address",
     "gone@contoso.com"),
    (mails.postfix, "5.1.1", "550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown",
     "gone@example.net"),
    (mails.exim_plain, "5.1.1", "550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown",
     "gone@example.net"),
    (mails.qmail, "5.7.1", "Remote host said: 554 5.7.1 <gone@example.net>: Relay access denied",
     "gone@example.net"),
    (mails.broken_mime_bounce, "5.2.2", "552 5.2.2 Mailbox full", "gone@example.net"),
    (mails.shift_jis_bounce, "5.1.1", "550 5.1.1 unknown user", "taro@example.jp"),
])
def test_a_bounce_that_failed_names_the_original_message_its_status_and_the_servers_words(
        build, code, error, recipient):
    mail = classify(build(MID))
    assert mail.kind == FAILED
    assert mail.refers_to[0] == MID
    assert mail.code == code
    assert mail.error.startswith(error)
    assert mail.recipient == recipient


@pytest.mark.parametrize("build", [mails.rfc3464_delayed, mails.exim_delayed])
def test_a_delay_warning_is_not_a_failure(build):
    mail = classify(build(MID))
    assert mail.kind == DELAYED and mail.refers_to == (MID,)


def test_a_multi_recipient_report_with_a_delay_listed_first_is_still_a_failure():
    """RFC 3464 §10.2 with the delayed recipient first: one failed recipient fails the message."""
    assert classify(mails.rfc3464_multi(MID)).kind == FAILED


def test_a_mailer_daemons_mail_that_says_neither_failed_nor_delayed_records_nothing():
    raw = mails._crlf(f"From: MAILER-DAEMON@mx.example.net\nSubject: Delivery notification\n\n"
                      f"Your message was relayed.\n\n--- copy of the message ---\nMessage-ID: <{MID}>\n")
    assert classify(raw).kind == BOUNCE


def test_a_customer_quoting_our_message_id_in_plain_text_is_not_a_bounce():
    raw = mails._crlf(f"From: ann@example.com\nSubject: question\nMessage-ID: <q@x>\n\n"
                      f"550 5.1.1 user unknown? Message-ID: <{MID}>\n")
    assert classify(raw).kind == OTHER


@pytest.mark.parametrize("build", [mails.reply, mails.broken_mime_reply, mails.latin1_reply])
def test_a_reply_names_the_message_it_answers(build):
    mail = classify(build(MID))
    assert mail.kind == REPLY and mail.refers_to[0] == MID


def test_a_reply_in_a_thread_tries_in_reply_to_first_then_the_newest_reference():
    raw = mails.reply("newest@shop.example", references="<oldest@shop.example> <middle@shop.example>")
    assert classify(raw).refers_to == ("newest@shop.example", "middle@shop.example", "oldest@shop.example")


def test_the_sender_of_a_latin1_reply_is_read():
    assert classify(mails.latin1_reply(MID)).sender == "juergen@example.de"


@pytest.mark.parametrize("build", [mails.out_of_office, mails.outlook_automatic_reply])
def test_an_automatic_answer_is_not_a_reply(build):
    assert classify(build(MID)).kind == AUTO_REPLY


@pytest.mark.parametrize("header", ["Auto-Submitted: auto-generated", "Precedence: auto_reply", "Precedence: bulk",
                                    "X-Autorespond: yes"])
def test_automatic_headers_make_an_answer_automatic(header):
    raw = mails._crlf(f"From: ann@example.com\nSubject: Re: Your cart\n{header}\nIn-Reply-To: <{MID}>\n\nAway.\n")
    assert classify(raw).kind == AUTO_REPLY


def test_auto_submitted_no_is_a_person_writing():
    raw = mails._crlf(f"From: ann@example.com\nSubject: Re: Your cart\nAuto-Submitted: no\nIn-Reply-To: <{MID}>\n\nHi\n")
    assert classify(raw).kind == REPLY


def test_a_mail_to_the_unsubscribe_address_is_an_unsubscribe_request_with_its_token():
    mail = classify(mails.unsubscribe("tok.EN-1"), unsubscribe_address=mails.UNSUBSCRIBE)
    assert (mail.kind, mail.token, mail.sender) == (UNSUBSCRIBE, "tok.EN-1", "ann@example.com")


def test_a_plus_tagged_unsubscribe_address_counts_and_without_settings_the_subject_alone_does():
    tagged = mails.unsubscribe("", to="unsubscribe+abc@shop.example")
    assert classify(tagged, unsubscribe_address="Shop <unsubscribe@shop.example>").kind == UNSUBSCRIBE
    assert classify(mails.unsubscribe("tok"), unsubscribe_address="").kind == UNSUBSCRIBE


def test_when_the_unsubscribe_address_is_the_shops_own_only_an_unsubscribe_subject_counts():
    own = [mails.SHOP]
    assert classify(mails.reply(MID), unsubscribe_address=mails.SHOP, own_addresses=own).kind == REPLY
    asked = mails.unsubscribe("", to=mails.SHOP, in_reply_to=MID)
    mail = classify(asked, unsubscribe_address=mails.SHOP, own_addresses=own)
    assert mail.kind == UNSUBSCRIBE and mail.refers_to == (MID,)


def test_an_out_of_office_answer_sent_to_the_unsubscribe_address_is_not_an_opt_out():
    raw = mails.out_of_office(MID).replace(f"To: {mails.SHOP}".encode(), f"To: {mails.UNSUBSCRIBE}".encode())
    assert classify(raw, unsubscribe_address=mails.UNSUBSCRIBE).kind == AUTO_REPLY


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe garbage \r\n\r\n\x80", b"Subject: =?utf-8?B?####?=\r\n\r\nx",
                                 b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno boundary"])
def test_garbage_is_read_as_something_else_without_raising(raw):
    assert classify(raw).kind == OTHER


def test_message_ids_reads_references_lists():
    assert message_ids("<a@b>\r\n <c@d>") == ["a@b", "c@d"]
    assert message_ids("bare@id.example") == ["bare@id.example"]
    assert message_ids(None) == [] and message_ids("no id") == []


def test_an_internationalized_dsn_rfc_6533_is_read():
    mail = classify(mails.global_dsn(MID))
    assert (mail.kind, mail.refers_to, mail.code, mail.recipient) == (FAILED, (MID,), "5.1.1", "太郎@例え.jp")
    assert mail.error == "550 5.1.1 ユーザー不明"


def test_a_read_receipt_report_is_not_a_bounce():
    raw = mails._crlf(f"""From: ann@example.com
Subject: Read: Your cart
Content-Type: multipart/report; report-type=disposition-notification; boundary="B"

--B
Content-Type: message/disposition-notification

Final-Recipient: rfc822; ann@example.com
Original-Message-ID: <{MID}>
Disposition: manual-action/MDN-sent-manually; displayed

--B--
""")
    assert classify(raw).kind == OTHER


def test_undeclared_8bit_bytes_in_a_dsn_are_stored_readable_never_as_lone_surrogates():
    mail = classify(mails.raw_8bit_dsn(MID))
    assert mail.kind == FAILED and mail.error.startswith("550 5.1.1 Empf") and mail.error.endswith("nger unbekannt")
    mail.error.encode("utf-8")      # no lone surrogates: a database takes it


# -- found in review: more automatic answers, raw UTF-8 headers, DSNs without Action -----------------------

def _answer(subject: str, extra: str = "") -> bytes:
    return (f"From: Ann Lee <ann@example.com>\r\nTo: hello@shop.example\r\nSubject: {subject}\r\n"
            f"Message-ID: <r1@mail.example.com>\r\nIn-Reply-To: <{MID}>\r\n{extra}\r\nI am away.\r\n").encode("utf-8")


@pytest.mark.parametrize("subject", [
    "Automatische Antwort: Your cart", "[Auto-Reply] Your cart", "Risposta automatica: Your cart",
    "Automatisch antwoord: Your cart", "Autosvar: Your cart", "Automaattinen vastaus: Your cart",
    "Respuesta automática: Your cart", "Réponse automatique : Your cart", "Resposta automática: Your cart",
    "自動応答: Your cart"])
def test_out_of_office_subjects_of_other_languages_are_automatic(subject):
    """Outlook writes its automatic reply's subject in the mailbox's language, often as raw UTF-8."""
    assert classify(_answer(subject)).kind == AUTO_REPLY
    encoded = "=?utf-8?b?" + __import__("base64").b64encode(subject.encode()).decode() + "?="
    assert classify(_answer(encoded)).kind == AUTO_REPLY


@pytest.mark.parametrize("extra", ["X-Autogenerated: Reply", "X-Auto-Generated: yes", "X-AutoReply-From: ann@example.com",
                                   "X-POST-MessageClass: 9; Autoresponder", "Delivered-To: Autoresponder"])
def test_more_automatic_headers_make_an_answer_automatic(extra):
    assert classify(_answer("Re: Your cart", extra + "\r\n")).kind == AUTO_REPLY


def test_a_person_writing_about_an_out_of_office_is_a_reply():
    assert classify(_answer("Re: Your cart — I was out of office, sorry")).kind == REPLY
    assert classify(_answer("Re: Réponse à votre panier")).kind == REPLY


def test_a_raw_utf8_unsubscribe_subject_and_sender_are_read():
    raw = ("From: Zoë Café <Zoe@Example.com>\r\nTo: hello@shop.example\r\nSubject: unsubscribe — merci\r\n"
           "Message-ID: <u1@mail.example.com>\r\n\r\nplease\r\n").encode("utf-8")
    mail = classify(raw)
    assert (mail.kind, mail.sender) == (UNSUBSCRIBE, "zoe@example.com")


def _dsn(fields: str) -> bytes:
    return ("From: MAILER-DAEMON@mx.example.net\r\nTo: hello@shop.example\r\nSubject: Undelivered Mail\r\n"
            "Message-ID: <b1@mx.example.net>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\r\n\r\n"
            "--XX\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "--XX\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
            f"{fields}\r\n--XX\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: hello@shop.example\r\nTo: ann@example.com\r\nMessage-ID: <{MID}>\r\n\r\n--XX--\r\n").encode()


@pytest.mark.parametrize("fields, kind, code", [
    ("Final-Recipient: rfc822; ann@example.com\r\nStatus: 5.1.1\r\n", FAILED, "5.1.1"),
    ("Final-Recipient: rfc822; ann@example.com\r\nStatus: 4.2.2\r\n", DELAYED, ""),
    ("Final-Recipient: rfc822; <ann@example.com>\r\nAction: FAILED\r\nStatus: 5.1.1 (user unknown)\r\n", FAILED, "5.1.1"),
    ("Final-Recipient: rfc822; ann@example.com\r\nAction: failed\r\nStatus: 4.4.7\r\n"
     "Diagnostic-Code: smtp; 421 4.4.7 message expired\r\n", FAILED, "4.4.7"),
    ("Final-Recipient: rfc822; bob@example.com\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n"
     "Final-Recipient: rfc822; ann@example.com\r\nAction: delayed\r\nStatus: 4.4.1\r\n", DELAYED, ""),
])
def test_a_dsn_is_judged_by_its_action_or_else_its_status_class(fields, kind, code):
    """RFC 3464 requires Action; some gateways leave it out, and then the Status class says it (RFC 3463)."""
    mail = classify(_dsn(fields))
    assert (mail.kind, mail.code, mail.refers_to) == (kind, code, (MID,))
    if kind == FAILED:
        assert mail.recipient == "ann@example.com"


@pytest.mark.parametrize("setting, written", [("bye@café.example", "bye@xn--caf-dma.example"),
                                              ("bye@xn--caf-dma.example", "bye+x@café.example")])
def test_an_international_unsubscribe_address_is_recognised_in_either_form(setting, written):
    """The mailto: link carries the xn-- form of an international domain; the setting may hold either."""
    raw = mails._crlf(f"From: ann@example.com\nTo: {written}\nSubject: unsubscribe\nMessage-ID: <u9@x>\n\nplease\n", "utf-8")
    assert classify(raw, unsubscribe_address=setting).kind == UNSUBSCRIBE


@pytest.mark.parametrize("report_type, part", [
    ("disposition-notification", "message/disposition-notification\r\n\r\nFinal-Recipient: rfc822; ann@example.com\r\n"
                                 "Disposition: manual-action/MDN-sent-manually; displayed"),
    ("feedback-report", "message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: Yahoo!-Mail-Feedback/2.0"),
])
def test_a_read_receipt_or_complaint_report_naming_our_message_is_not_a_reply(report_type, part):
    """Thunderbird's and Outlook's read receipts carry References/In-Reply-To of the message they are about."""
    raw = (f"From: ann@example.com\r\nTo: hello@shop.example\r\nSubject: Read: Your cart\r\nIn-Reply-To: <{MID}>\r\n"
           f"References: <{MID}>\r\nMessage-ID: <mdn-1@mail.example.com>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: multipart/report; report-type={report_type}; boundary=\"B\"\r\n\r\n"
           f"--B\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n"
           f"--B\r\nContent-Type: {part}\r\n\r\n--B--\r\n").encode()
    assert classify(raw).kind == OTHER
