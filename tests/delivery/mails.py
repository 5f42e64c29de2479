"""Mails that come back to the shop's mailbox, as servers really write them (bytes, CRLF line ends).

Bounces after RFC 3464 section 10 (10.1 simple DSN, 10.2 multi-recipient DSN, 10.3 delayed DSN)
and as Gmail, Outlook/Microsoft 365, Postfix, Exim and qmail send them; a reply, out-of-office
answers, unsubscribe mails, a mail with a broken MIME structure and mails in other charsets.
Each builder takes the Message-ID (without <>) of the shop's message it is about.
"""
from __future__ import annotations

SHOP = "shop@example.com"
UNSUBSCRIBE = "unsubscribe@shop.example"


def _crlf(text: str, charset: str = "ascii") -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode(charset)


def original(mid: str, to: str = "ann@example.com") -> str:
    """The headers and body of the shop's message, as returned inside a bounce."""
    return (f"Return-Path: <{SHOP}>\n"
            f"From: Corner Shop <{SHOP}>\n"
            f"To: {to}\n"
            f"Subject: Your cart is waiting\n"
            f"Date: Mon, 30 Nov 2026 08:00:00 +0000\n"
            f"Message-ID: <{mid}>\n"
            f"MIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=utf-8\n"
            f"\n"
            f"Hi Ann, your cart is waiting.\n")


def rfc3464_simple(mid: str) -> bytes:
    """RFC 3464 §10.1: failed after 5 days of retrying (Action: failed with a 4.x.x status)."""
    return _crlf(f"""Date: Thu, 7 Jul 1994 17:16:05 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Message-Id: <199407072116.RAA14128@CS.UTK.EDU>
Subject: Returned mail: Cannot send message for 5 days
To: <{SHOP}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU

   The original message was received at Sat, 2 Jul 1994 17:10:28 -0400
   from root@localhost

      ----- The following addresses had delivery problems -----
<louisl@larry.slip.umd.edu>  (unrecoverable error)

      ----- Transcript of session follows -----
<louisl@larry.slip.umd.edu>... Deferred: Connection timed out
   with larry.slip.umd.edu.
Message could not be delivered for 5 days
Message will be deleted from queue

--RAA14128.773615765/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;louisl@larry.slip.umd.edu
Final-Recipient: rfc822;louisl@larry.slip.umd.edu
Action: failed
Status: 4.0.0
Diagnostic-Code: smtp; 426 connection timed out
Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400

--RAA14128.773615765/CS.UTK.EDU
content-type: message/rfc822

{original(mid, "louisl@larry.slip.umd.edu")}
--RAA14128.773615765/CS.UTK.EDU--
""")


def rfc3464_multi(mid: str) -> bytes:
    """RFC 3464 §10.2: three recipients, two failed (one diagnostic folded over two lines), one
    delayed; the returned message's headers only (text/rfc822-headers)."""
    headers = original(mid).split("\n\n")[0]
    return _crlf(f"""Date: Fri, 8 Jul 1994 09:21:47 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Subject: Returned mail: User unknown
To: <{SHOP}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="JAA13167.773673707/CS.UTK.EDU"

--JAA13167.773673707/CS.UTK.EDU
content-type: text/plain; charset=us-ascii

   ----- The following addresses had delivery problems -----
<arathib@vnet.ibm.com>  (unrecoverable error)
<wsnell@sdcc13.ucsd.edu>  (unrecoverable error)

--JAA13167.773673707/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;johnh@hpnjld.njd.hp.com
Final-Recipient: rfc822;johnh@hpnjld.njd.hp.com
Action: delayed
Status: 4.0.0 (hpnjld.njd.jp.com: host name lookup failure)

Original-Recipient: rfc822;arathib@vnet.ibm.com
Final-Recipient: rfc822;arathib@vnet.ibm.com
Action: failed
Status: 5.0.0 (permanent failure)
Diagnostic-Code: smtp;  550 'arathib@vnet.IBM.COM' is not a
    registered gateway user
Remote-MTA: dns; vnet.ibm.com

Original-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
Final-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 user unknown
Remote-MTA: dns; sdcc13.ucsd.edu

--JAA13167.773673707/CS.UTK.EDU
content-type: text/rfc822-headers

{headers}

--JAA13167.773673707/CS.UTK.EDU--
""")


def rfc3464_delayed(mid: str) -> bytes:
    """RFC 3464 §10.3: a delayed DSN (only a warning: the message may still arrive)."""
    return _crlf(f"""Date: Mon, 30 Nov 2026 08:31:02 +0000
From: Mail Delivery Subsystem <MAILER-DAEMON@sun2.nsfnet-relay.ac.uk>
Message-Id: <delay-7331@sun2.nsfnet-relay.ac.uk>
Subject: Delayed mail (still being retried)
To: <{SHOP}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="RAB15215.784366123"

--RAB15215.784366123
Content-Type: text/plain

The message that you sent has not yet been delivered; delivery will be retried.

--RAB15215.784366123
Content-Type: message/delivery-status

Reporting-MTA: dns; sun2.nsfnet-relay.ac.uk

Final-Recipient: rfc822;thomas@de-montfort.ac.uk
Status: 4.0.0 (unknown temporary failure)
Action: delayed

--RAB15215.784366123
Content-Type: text/rfc822-headers

Message-ID: <{mid}>
Subject: Your cart is waiting

--RAB15215.784366123--
""")


def gmail(mid: str) -> bytes:
    """Gmail's "Delivery Status Notification (Failure)": 5.1.1, a multi-line 550 diagnostic."""
    return _crlf(f"""Delivered-To: {SHOP}
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {SHOP}
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Message-ID: <5f6b.gmail-dsn.0001@mx.google.com>
Date: Mon, 30 Nov 2026 08:01:12 -0800 (PST)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="00000000000011ad7c05b1f0ab67"; report-type=delivery-status

--00000000000011ad7c05b1f0ab67
Content-Type: multipart/related; boundary="00000000000011b8b005b1f0ab78"

--00000000000011b8b005b1f0ab78
Content-Type: multipart/alternative; boundary="00000000000011b8b605b1f0ab79"

--00000000000011b8b605b1f0ab79
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to nobody@example.org because the address couldn't be found, or is unable to receive mail.

--00000000000011b8b605b1f0ab79
Content-Type: text/html; charset="UTF-8"

<html><body><p><b>Address not found</b></p></body></html>

--00000000000011b8b605b1f0ab79--
--00000000000011b8b005b1f0ab78--
--00000000000011ad7c05b1f0ab67
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; {SHOP}
Arrival-Date: Mon, 30 Nov 2026 08:01:11 -0800 (PST)
X-Original-Message-ID: <{mid}>

Final-Recipient: rfc822; nobody@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org. (192.0.2.25, the server for the domain example.org.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try
 550-5.1.1 double-checking the recipient's email address for typos or
 550 5.1.1 unnecessary spaces.
Last-Attempt-Date: Mon, 30 Nov 2026 08:01:12 -0800 (PST)

--00000000000011ad7c05b1f0ab67
Content-Type: text/rfc822-headers

Return-Path: <{SHOP}>
From: Corner Shop <{SHOP}>
To: nobody@example.org
Subject: Your cart is waiting
Message-ID: <{mid}>

--00000000000011ad7c05b1f0ab67--
""")


def outlook(mid: str) -> bytes:
    """Microsoft 365 / Outlook.com's "Undeliverable:" report: 5.1.10 RecipientNotFound."""
    return _crlf(f"""From: Microsoft Outlook <MAILER-DAEMON@AM6PR04MB5112.eurprd04.prod.outlook.com>
To: <{SHOP}>
Date: Mon, 30 Nov 2026 08:02:40 +0000
Content-Type: multipart/report; report-type=delivery-status;
	boundary="18b9a2c1-4a33-4d6c-b4a6-2a1a4d0d6c0e"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US
Message-ID: <ee3cbd07-ndr@AM6PR04MB5112.eurprd04.prod.outlook.com>
In-Reply-To: <{mid}>
References: <{mid}>
Subject: Undeliverable: Your cart is waiting
Auto-Submitted: auto-replied
MIME-Version: 1.0

--18b9a2c1-4a33-4d6c-b4a6-2a1a4d0d6c0e
Content-Type: multipart/alternative; differences=Content-Type;
	boundary="f1e5a6a4-2c52-4e8c-8a47-3b8e0a6b2e11"

--f1e5a6a4-2c52-4e8c-8a47-3b8e0a6b2e11
Content-Type: text/plain; charset="us-ascii"

Your message to gone@contoso.com couldn't be delivered.
gone wasn't found at contoso.com.

--f1e5a6a4-2c52-4e8c-8a47-3b8e0a6b2e11
Content-Type: text/html; charset="us-ascii"

<html><body>Your message to gone@contoso.com couldn't be delivered.</body></html>

--f1e5a6a4-2c52-4e8c-8a47-3b8e0a6b2e11--

--18b9a2c1-4a33-4d6c-b4a6-2a1a4d0d6c0e
Content-Type: message/delivery-status

Reporting-MTA: dns;AM6PR04MB5112.eurprd04.prod.outlook.com
Received-From-MTA: dns;mail.shop.example
Arrival-Date: Mon, 30 Nov 2026 08:02:38 +0000

Final-Recipient: rfc822;gone@contoso.com
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup

--18b9a2c1-4a33-4d6c-b4a6-2a1a4d0d6c0e
Content-Type: message/rfc822

{original(mid, "gone@contoso.com")}
--18b9a2c1-4a33-4d6c-b4a6-2a1a4d0d6c0e--
""")


def postfix(mid: str) -> bytes:
    """Postfix's "Undelivered Mail Returned to Sender" (its own server bouncing at RCPT TO)."""
    return _crlf(f"""Return-Path: <>
Date: Mon, 30 Nov 2026 08:03:01 +0000 (UTC)
From: MAILER-DAEMON@mail.shop.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {SHOP}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4CmB1x2y3Zz.1606723381/mail.shop.example"
Content-Transfer-Encoding: 8bit
Message-Id: <20261130080301.7F3A2C0123@mail.shop.example>

This is a MIME-encapsulated message.

--4CmB1x2y3Zz.1606723381/mail.shop.example
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.shop.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<gone@example.net>: host mx.example.net[192.0.2.30] said: 550 5.1.1
    <gone@example.net>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--4CmB1x2y3Zz.1606723381/mail.shop.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.shop.example
X-Postfix-Queue-ID: 4CmB1x2y3Zz
X-Postfix-Sender: rfc822; {SHOP}
Arrival-Date: Mon, 30 Nov 2026 08:03:00 +0000 (UTC)

Final-Recipient: rfc822; gone@example.net
Original-Recipient: rfc822;gone@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address
    rejected: User unknown in virtual mailbox table

--4CmB1x2y3Zz.1606723381/mail.shop.example
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

{original(mid, "gone@example.net")}
--4CmB1x2y3Zz.1606723381/mail.shop.example--
""")


def exim_plain(mid: str) -> bytes:
    """An Exim bounce without a report part (older Exim, or `bounce_message_file` set)."""
    return _crlf(f"""Return-path: <>
From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: {SHOP}
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1kjXyZ-0004Ab-Cd@mx.example.net>
Date: Mon, 30 Nov 2026 08:04:00 +0000
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  gone@example.net
    SMTP error from remote mail server after RCPT TO:<gone@example.net>:
    550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown

------ This is a copy of the message, including all the headers. ------

{original(mid, "gone@example.net")}""")


def qmail(mid: str) -> bytes:
    """qmail's "failure notice" (plain text, no report)."""
    return _crlf(f"""Return-Path: <>
Date: 30 Nov 2026 08:05:00 -0000
From: MAILER-DAEMON@mx.example.net
To: {SHOP}
Subject: failure notice

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<gone@example.net>:
192.0.2.40 does not like recipient.
Remote host said: 554 5.7.1 <gone@example.net>: Relay access denied
Giving up on 192.0.2.40.

--- Below this line is a copy of the message.

{original(mid, "gone@example.net")}""")


def exim_delayed(mid: str) -> bytes:
    """Exim's delay warning (plain text): not a failure."""
    return _crlf(f"""From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: {SHOP}
Subject: Warning: message 1kjXyZ-0004Ab-Cd delayed 24 hours
Message-Id: <E1kjZzz-0005Aa-Bb@mx.example.net>
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mx.example.net.

The following address(es) have not yet been delivered:

  slow@example.net
    Remote host mx.slow.example [192.0.2.50]: Connection timed out

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered.

------ This is a copy of the message's headers. ------

Message-ID: <{mid}>
Subject: Your cart is waiting
""")


def reply(mid: str, sender: str = "Ann Lee <ann@example.com>", message_id: str = "reply-1@mail.example.com",
          references: str | None = None) -> bytes:
    """A customer answering the shop's message."""
    return _crlf(f"""From: {sender}
To: Corner Shop <{SHOP}>
Subject: Re: Your cart is waiting
Date: Mon, 30 Nov 2026 09:00:00 +0000
Message-ID: <{message_id}>
In-Reply-To: <{mid}>
References: {references or f"<{mid}>"}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Is the blue one still in stock?

> Hi Ann, your cart is waiting.
""")


def out_of_office(mid: str) -> bytes:
    """An RFC 3834 automatic answer (Auto-Submitted: auto-replied)."""
    return _crlf(f"""From: Ann Lee <ann@example.com>
To: {SHOP}
Subject: Out of Office: Your cart is waiting
Date: Mon, 30 Nov 2026 08:00:30 +0000
Message-ID: <ooo-1@mail.example.com>
In-Reply-To: <{mid}>
References: <{mid}>
Auto-Submitted: auto-replied
X-Autoreply: yes

I am away until Monday.
""")


def outlook_automatic_reply(mid: str) -> bytes:
    """Exchange's "Automatic reply:" (no Auto-Submitted header, only its subject and suppress header)."""
    return _crlf(f"""From: Ann Lee <ann@example.com>
To: {SHOP}
Subject: Automatic reply: Your cart is waiting
Date: Mon, 30 Nov 2026 08:00:31 +0000
Message-ID: <oof-2@AM6PR04MB5112.eurprd04.prod.outlook.com>
In-Reply-To: <{mid}>
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Ich bin bis Montag nicht im B=FCro.
""")


def unsubscribe(token: str = "", sender: str = "ann@example.com", in_reply_to: str = "",
                message_id: str = "unsub-1@mail.example.com", to: str = UNSUBSCRIBE) -> bytes:
    """What a mail program sends for `List-Unsubscribe: <mailto:…?subject=unsubscribe%20TOKEN>`."""
    threading = f"In-Reply-To: <{in_reply_to}>\n" if in_reply_to else ""
    return _crlf(f"""From: {sender}
To: {to}
Subject: unsubscribe {token}
Date: Mon, 30 Nov 2026 09:10:00 +0000
Message-ID: <{message_id}>
{threading}
This message was automatically generated by Gmail.
""")


def broken_mime_reply(mid: str) -> bytes:
    """A reply whose multipart body never closes, with a part lacking its headers' blank line and a
    boundary declared but misspelt: read as far as it goes."""
    return _crlf(f"""From: Ann Lee <ann@example.com>
To: {SHOP}
Subject: Re: Your cart is waiting
Message-ID: <broken-1@mail.example.com>
In-Reply-To: <{mid}>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="AAAA"

--AAAB
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

!!!not base64!!!
--AAAA
Content-Type: application/octet-stream; name=
Content-Transfer-Encoding: quoted-printable
=ZZ=
""")


def broken_mime_bounce(mid: str) -> bytes:
    """A DSN cut off in the middle (no closing boundary, the returned headers truncated)."""
    return _crlf(f"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: {SHOP}
Subject: Returned mail: see transcript for details
Message-ID: <cut-1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="CUT"

--CUT
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; gone@example.net
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

--CUT
Content-Type: text/rfc822-headers

Message-ID: <{mid}>
Subject: Your cart""")


def latin1_reply(mid: str) -> bytes:
    """A reply in ISO-8859-1 (subject as an RFC 2047 word, body 8-bit Latin-1)."""
    head = f"""From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <juergen@example.de>
To: {SHOP}
Subject: =?iso-8859-1?q?Re:_Ihr_Warenkorb_-_Gr=FC=DFe?=
Message-ID: <latin1-1@mail.example.de>
In-Reply-To: <{mid}>
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

"""
    return _crlf(head) + "Grüße aus München, ist der Mantel noch da?\r\n".encode("iso-8859-1")


def shift_jis_bounce(mid: str) -> bytes:
    """A Japanese provider's DSN whose human part is Shift_JIS and whose subject uses an unknown charset."""
    head = f"""From: MAILER-DAEMON@mx.example.jp
To: {SHOP}
Subject: =?x-unknown-charset?B?gXOCqYLxgrWC6ILq?=
Message-ID: <sjis-1@mx.example.jp>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="SJ"

--SJ
Content-Type: text/plain; charset=Shift_JIS
Content-Transfer-Encoding: 8bit

"""
    tail = f"""
--SJ
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.jp

Final-Recipient: rfc822; taro@example.jp
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 unknown user

--SJ
Content-Type: text/rfc822-headers

Message-ID: <{mid}>

--SJ--
"""
    return _crlf(head) + "宛先不明のため配信できませんでした。\r\n".encode("shift_jis") + _crlf(tail)


def newsletter() -> bytes:
    """Something else entirely: a supplier's newsletter."""
    return _crlf(f"""From: Supplier <news@supplier.example>
To: {SHOP}
Subject: Our autumn catalogue
Message-ID: <news-1@supplier.example>
List-Id: <news.supplier.example>

New products.
""")


def global_dsn(mid: str) -> bytes:
    """An internationalized DSN (RFC 6533): message/global-delivery-status with a UTF-8 address,
    message/global-headers for the returned headers."""
    return _crlf(f"""From: Mail Delivery System <MAILER-DAEMON@mx.例え.jp>
To: {SHOP}
Subject: Undelivered Mail Returned to Sender
Message-ID: <global-1@mx.example.jp>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=global-delivery-status; boundary="GL"

--GL
Content-Type: text/plain; charset=utf-8

配信できませんでした。

--GL
Content-Type: message/global-delivery-status

Reporting-MTA: dns; mx.例え.jp

Final-Recipient: rfc822; 太郎@例え.jp
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 ユーザー不明

--GL
Content-Type: message/global-headers

Message-ID: <{mid}>
Subject: Your cart is waiting

--GL--
""", "utf-8")


def raw_8bit_dsn(mid: str) -> bytes:
    """A DSN whose Diagnostic-Code holds undeclared 8-bit bytes (Latin-1, not UTF-8): stored readable."""
    head = f"""From: MAILER-DAEMON@mx.example.de
To: {SHOP}
Subject: Unzustellbar
Message-ID: <raw8-1@mx.example.de>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="R8"

--R8
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.de

Final-Recipient: rfc822; gone@example.de
Action: failed
Status: 5.1.1
"""
    tail = f"""
--R8
Content-Type: text/rfc822-headers

Message-ID: <{mid}>

--R8--
"""
    return _crlf(head) + "Diagnostic-Code: smtp; 550 5.1.1 Empfänger unbekannt\r\n".encode("latin-1") + _crlf(tail)
