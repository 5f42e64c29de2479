"""Review (issue 13): the one-click unsubscribe link works every time it is used. A contact who unsubscribed
with it, signed up again, and then uses the same email's link again is unsubscribed again (the page says so);
it was taken as a repeat of the first use and nothing was recorded."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from app.delivery.unsubscribe import ONE_CLICK, links_for, unsubscribe_token
from app.engine.ingest import EventIn
from app.store.tables import contact_channels

from .conftest import Receiver
from .test_callbacks import _message


def _email_consent(receiver: Receiver) -> str | None:
    with receiver.db.connect() as conn:
        return conn.execute(select(contact_channels.c.state).where(contact_channels.c.contact_id == "c1",
                                                                   contact_channels.c.channel == "email")).scalar()


def test_the_same_unsubscribe_link_used_again_after_a_new_sign_up_unsubscribes_again(receiver: Receiver) -> None:
    _message(receiver, "email", "<m1@example.com>", key="run:7:send")
    token = unsubscribe_token("run:7:send", links_for(receiver.db).secret)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with receiver.client() as http:
        assert http.post(f"/u/{token}", content=ONE_CLICK, headers=form).status_code == 200
        receiver.apply()
        assert _email_consent(receiver) == "unsubscribed"
        receiver.engine.ingest([EventIn("c1", "subscribed", datetime.now(timezone.utc), {"channel": "email"},
                                        "signed-up-again")])
        assert _email_consent(receiver) == "subscribed"
        again = http.post(f"/u/{token}", content=ONE_CLICK, headers=form)
    assert again.status_code == 200 and "You are unsubscribed" in again.text
    receiver.apply()
    assert _email_consent(receiver) == "unsubscribed"
