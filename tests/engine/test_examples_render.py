"""Every message of every example journey reads cleanly: for the sample contact (what a preview or a test
send shows) and for the sample data through the simulator — no Python notation, no template left over,
nothing missing, money with its currency."""
from __future__ import annotations

import json
import re

import pytest

from app.cli import main as journeys
from app.delivery.test_send import render_for
from app.engine.samples import SAMPLE_CONTACT, SAMPLE_EVENT
from app.examples import load_example
from app.journey.event_properties import trigger_event_type
from app.paths import EXAMPLES, RESOURCES, SAMPLE_CONTACTS
from app.store.db import open_database

NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
# Python's notation (None, ['…'], {'…': …}), template syntax left over, an amount without its currency.
_UNCLEAN = re.compile(r"\bNone\b|\[|\]|\{|\}|'\w+':|Undefined")
_AMOUNT = re.compile(r"(?<![\d$€£¥])\d+\.\d\d\b")     # "$49.00", "€7.50" carry their currency


def _unclean(text: str) -> list[str]:
    return _UNCLEAN.findall(text) + [f"amount without currency: {a}" for a in _AMOUNT.findall(text)]


@pytest.mark.parametrize("name", NAMES)
def test_every_message_reads_cleanly_for_the_sample_contact(name, tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    journey = load_example(name)
    # A time-based trigger gives its messages no event, exactly as the engine does.
    event = dict(SAMPLE_EVENT) if trigger_event_type(journey.trigger().config) else {}
    sends = [n for n in journey.nodes.values() if n.kind == "send_template"]
    assert sends
    for step in sends:
        message = render_for(db, journey, step, SAMPLE_CONTACT, event)
        assert message.error is None and message.missing == (), (step.title, message)
        for field, text in message.fields.items():
            assert text.strip(), (step.title, field)
            assert _unclean(text) == [], (step.title, field, text)
            # A value that printed nothing leaves a double space ("order  (…)"); indentation is fine.
            assert not [line for line in text.split("\n") if "  " in line.strip()], (step.title, field, text)
        if "money" in str(step.config):
            assert "$" in (message.text or ""), (step.title, message.text)      # the sample contact pays in USD


def test_the_cart_email_lists_the_sample_cart(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    journey = load_example("cart_abandonment")
    email = next(n for n in journey.nodes.values() if n.kind == "send_template" and n.config["channel"] == "email")
    message = render_for(db, journey, email, SAMPLE_CONTACT, dict(SAMPLE_EVENT))
    assert "- Linen shirt × 1 — $49.00\n" in (message.text or "")
    assert "- Canvas tote × 2 — $18.50\n" in (message.text or "")
    assert '<a href="https://shop.example/products/linen-shirt">Linen shirt</a>' in (message.html or "")


@pytest.mark.parametrize("name", NAMES)
def test_every_message_sent_from_the_sample_data_reads_cleanly(name, tmp_path):
    log = tmp_path / "activity.jsonl"
    assert journeys(["simulate", str(EXAMPLES / f"{name}.json"), "--contacts", str(SAMPLE_CONTACTS),
                     "--events", str(RESOURCES / "sample_events.jsonl"), "--log", str(log)]) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    sent = [line for line in lines if line["action"] == "sent"]
    assert sent
    for line in sent:
        text = f"{line.get('subject') or ''}\n{line.get('text') or ''}"
        assert _unclean(text) == [], (line["contact"], text)
    assert not [line for line in lines if line.get("reason") in ("missing_variable", "template_error")]
