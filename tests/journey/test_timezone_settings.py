"""The journey's own time zone (`settings.timezone`) and old waits' fallback zone (issue 8 §7)."""
from __future__ import annotations

import pytest

from app.journey.fileformat import JourneyFileError, from_document, to_document
from app.journey.model import Journey
from app.journey.validate import WARNING, validate

from .helpers import email, linear


def old_wait_document(fallbacks: list[str], journey_zone: str | None = None) -> dict:
    journey = Journey(name="Old")
    trigger = journey.add_node("trigger", {"mode": "event", "event": "cart_abandoned"})
    previous = trigger
    for _ in fallbacks:
        wait = journey.add_node("wait", {"mode": "time_of_day", "time": "20:30"})
        journey.connect(previous.id, wait.id)
        previous = wait
    document = to_document(journey)
    waits = [n for n in document["nodes"] if n["kind"] == "wait"]
    for node, zone in zip(waits, fallbacks):
        node["kind_version"] = 1
        node["config"]["timezone"] = zone
    if journey_zone is None:
        del document["settings"]["timezone"]          # as files written before the setting existed
    else:
        document["settings"]["timezone"] = journey_zone
    return document


def test_an_old_file_without_the_setting_loads_with_the_business_zone():
    journey = from_document(old_wait_document([]))
    assert journey.settings["timezone"] == ""


@pytest.mark.parametrize("fallbacks, journey_zone, expected", [
    (["America/New_York"], None, "America/New_York"),              # the chosen zone is kept, journey-wide
    (["UTC", "Europe/Paris"], None, "Europe/Paris"),               # UTC was the default: not a choice
    (["UTC"], None, ""),
    (["America/New_York"], "Asia/Tokyo", "Asia/Tokyo"),            # the journey's own setting wins
])
def test_an_old_waits_fallback_zone_becomes_the_journeys(fallbacks, journey_zone, expected):
    journey = from_document(old_wait_document(fallbacks, journey_zone))
    assert journey.settings["timezone"] == expected
    assert all("timezone" not in n.config for n in journey.nodes.values() if n.kind == "wait")
    assert to_document(journey)["nodes"][1]["kind_version"] == 2


def test_a_journey_zone_that_is_no_iana_name_is_refused_with_its_pointer():
    document = old_wait_document([], "Berlin")
    with pytest.raises(JourneyFileError) as info:
        from_document(document, "shop.json")
    assert info.value.pointer == "/settings/timezone" and "IANA time zone" in info.value.message


def test_validation_warns_only_when_it_knows_no_business_zone_is_set():
    journey = linear(email())
    warned = [p for p in validate(journey, business_zone="") if "business time zone" in p.message]
    assert [p.severity for p in warned] == [WARNING] and warned[0].field == "/settings/timezone"
    assert not [p for p in validate(journey) if "business time zone" in p.message]
    assert not [p for p in validate(journey, business_zone="Europe/Berlin") if "business time zone" in p.message]
    journey.settings["timezone"] = "Asia/Tokyo"
    assert not [p for p in validate(journey, business_zone="") if "business time zone" in p.message]
