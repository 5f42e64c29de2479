"""Review (issue 13): a shop's opt-in never loosens an opt-out, even when the opt-out arrives in the same
round of the intake job as the opt-in (the round read the contact's consent before either was applied)."""
from __future__ import annotations

import json

from sqlalchemy import select

from app.store.tables import contact_channels

from .conftest import Receiver
from .fixtures.shopify import CUSTOMER, EMAIL_CONSENT, SMS_CONSENT, fresh
from .shop import post_shopify

LATER_OPT_IN = {"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2026-03-05T09:00:00Z"}


def _consent(receiver: Receiver, contact: str) -> dict[str, str]:
    with receiver.db.connect() as conn:
        return dict(conn.execute(select(contact_channels.c.channel, contact_channels.c.state)
                                 .where(contact_channels.c.contact_id == contact)).all())



def test_an_opt_out_and_a_later_shop_opt_in_in_one_round_leave_the_opt_out(receiver: Receiver) -> None:
    with receiver.client() as http:
        post_shopify(http, "customers/create", CUSTOMER)
        receiver.apply()
        assert _consent(receiver, "bob@biller.com") == {"email": "subscribed"}
        # Both arrive before the intake job runs: the opt-out, then an opt-in dated later.
        post_shopify(http, "customers_email_marketing_consent/update", EMAIL_CONSENT)
        post_shopify(http, "customers/update", fresh(CUSTOMER, email_marketing_consent=LATER_OPT_IN))
    receiver.apply()
    assert _consent(receiver, "bob@biller.com")["email"] == "unsubscribed"


def test_a_shop_opt_in_does_not_clear_an_opt_out_made_elsewhere_in_the_same_round(receiver: Receiver) -> None:
    with receiver.client() as http:
        post_shopify(http, "customers/create", CUSTOMER)
        receiver.apply()
        # The contact opts out through a Segment call; the shop's opt-in topic comes in the same round.
        track = {"type": "track", "event": "Unsubscribed", "userId": "bob@biller.com", "messageId": "opt-out-1",
                 "timestamp": "2026-03-04T09:00:00Z", "properties": {"channel": "email"}}
        assert http.post("/v1/track", content=json.dumps(track), auth=(receiver.token, "")).status_code == 200
        post_shopify(http, "customers_email_marketing_consent/update",
                     fresh(EMAIL_CONSENT, email_marketing_consent=LATER_OPT_IN))
    receiver.apply()
    assert _consent(receiver, "bob@biller.com")["email"] == "unsubscribed"


def test_an_sms_opt_out_and_a_later_sms_opt_in_in_one_round_leave_the_sms_opt_out(receiver: Receiver) -> None:
    with receiver.client() as http:
        post_shopify(http, "customers/create", fresh(CUSTOMER, phone="+13125551212"))
        receiver.apply()
        out = {"state": "unsubscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2026-03-03T09:00:00Z"}
        post_shopify(http, "customers_marketing_consent/update", fresh(SMS_CONSENT, sms_marketing_consent=out))
        post_shopify(http, "customers_marketing_consent/update", fresh(SMS_CONSENT, sms_marketing_consent=LATER_OPT_IN))
    receiver.apply()
    assert _consent(receiver, "bob@biller.com")["sms"] == "unsubscribed"


def test_the_engine_itself_never_lets_a_shop_opt_in_clear_an_opt_out(receiver: Receiver) -> None:
    """The same rule where the intake round cannot see the opt-out (applied by another job meanwhile)."""
    from datetime import datetime, timezone

    from app.engine.consent import KEEPS_OPT_OUT
    from app.engine.ingest import EventIn

    t1, t2 = datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 2, tzinfo=timezone.utc)
    receiver.engine.ingest([EventIn("ann@example.com", "unsubscribed", t1, {"channel": "email"}, "out-1")])
    receiver.engine.ingest([EventIn("ann@example.com", "subscribed", t2,
                                    {"channel": "email", "source": "Shopify", KEEPS_OPT_OUT: True}, "in-1")])
    assert _consent(receiver, "ann@example.com")["email"] == "unsubscribed"
    # Without the mark, a channel's own opt-in (the contact's, here) still clears it, as before.
    receiver.engine.ingest([EventIn("ann@example.com", "subscribed", t2, {"channel": "email"}, "in-2")])
    assert _consent(receiver, "ann@example.com")["email"] == "subscribed"


def test_an_opt_out_is_never_lost_to_the_spelling_of_its_state(receiver: Receiver) -> None:
    """Shopify's GraphQL Admin API spells the states in capitals (UNSUBSCRIBED); a webhook so written, or
    padded, is the same opt-out. A redacted customer (their data erased on request) is opted out too."""
    with receiver.client() as http:
        post_shopify(http, "customers/create", CUSTOMER)
        post_shopify(http, "customers/create", fresh(CUSTOMER, id=2, email="cat@example.com"))
        receiver.apply()
        assert _consent(receiver, "bob@biller.com") == {"email": "subscribed"}
        loud = {"state": " UNSUBSCRIBED ", "opt_in_level": "single_opt_in", "consent_updated_at": "2026-03-03T09:00:00Z"}
        post_shopify(http, "customers_email_marketing_consent/update", fresh(EMAIL_CONSENT, email_marketing_consent=loud))
        erased = {"state": "redacted", "consent_updated_at": "2026-03-03T09:00:00Z"}
        post_shopify(http, "customers/update", fresh(CUSTOMER, id=2, email="cat@example.com",
                                                     email_marketing_consent=erased))
    receiver.apply()
    assert _consent(receiver, "bob@biller.com")["email"] == "unsubscribed"
    assert _consent(receiver, "cat@example.com")["email"] == "unsubscribed"
