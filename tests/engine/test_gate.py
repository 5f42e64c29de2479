"""The engine runs only valid journeys: activating and publishing validate below the UI, and the CLI
and the simulator go through the same gate."""
from __future__ import annotations

import json

import pytest

from app.engine.gate import JourneyNotReady
from app.engine.simulator import install_journey
from app.journey.fileformat import to_document
from app.journey.model import Journey
from app.store.db import open_database
from app.store.journeys import JourneyStore

from .helpers import CONTACTS, chain, run_cli, send_node, simple_journey


def _stored(world, journey: Journey) -> JourneyStore:
    store = JourneyStore(world.db)
    store.create(to_document(journey))
    return store


def _no_trigger() -> Journey:
    journey = Journey(name="No way in")
    email = send_node(journey)
    email.ends = ("next",)
    return journey


def test_activating_a_journey_without_a_trigger_raises_and_publishes_nothing(world):
    journey = _no_trigger()
    store = _stored(world, journey)
    with pytest.raises(JourneyNotReady) as refused:
        world.engine.activate(journey.id)
    assert [p.message for p in refused.value.problems] == ["The journey has no trigger"]
    assert "'No way in' cannot run" in str(refused.value) and "The journey has no trigger" in str(refused.value)
    row = store.get(journey.id)
    assert (row.status, row.published_version, store.versions(journey.id)) == ("draft", None, [])


def test_an_email_without_a_sender_is_an_error_at_activation(world):
    journey = simple_journey()
    email = send_node(journey, sender="")
    email.ends = ("next",)
    chain(journey, journey.trigger(), email)
    store = _stored(world, journey)
    with pytest.raises(JourneyNotReady) as refused:
        world.engine.activate(journey.id)
    [problem] = refused.value.problems
    assert (problem.node_id, problem.field, problem.message) == (email.id, "/config/sender",
                                                                 "The email has no sender (From)")
    assert store.versions(journey.id) == [] and store.get(journey.id).status == "draft"

    email.config["sender"] = "Corner Shop <hello@cornershop.example>"
    store.save_draft(journey.id, to_document(journey))
    assert world.engine.activate(journey.id) == 1
    assert store.get(journey.id).status == "active"


@pytest.mark.parametrize("sender", ["Corner Shop", "hello@", "hello at shop.example", "<@shop.example>"])
def test_a_sender_that_names_no_address_is_refused(world, sender):
    journey = simple_journey()
    email = send_node(journey, sender=sender)
    email.ends = ("next",)
    chain(journey, journey.trigger(), email)
    _stored(world, journey)
    with pytest.raises(JourneyNotReady) as refused:
        world.engine.activate(journey.id)
    assert [p.message for p in refused.value.problems] == [f"The sender '{sender}' is not an email address"]


def test_an_sms_needs_no_sender(world):
    journey = simple_journey()
    sms = send_node(journey, channel="sms", subject="Hi {{ contact.first_name }}", sender="")
    sms.ends = ("next",)
    chain(journey, journey.trigger(), sms)
    _stored(world, journey)
    assert world.engine.activate(journey.id) == 1


def test_publishing_changes_with_errors_keeps_the_running_version(world):
    world.contacts(CONTACTS)
    journey = simple_journey()
    email = send_node(journey)
    email.ends = ("next",)
    chain(journey, journey.trigger(), email)
    world.install(journey)
    store = JourneyStore(world.db)

    del journey.nodes[journey.trigger().id]                  # the draft loses its trigger
    journey.edges.clear()
    store.save_draft(journey.id, to_document(journey))
    for go in (world.engine.publish, world.engine.activate):
        with pytest.raises(JourneyNotReady):
            go(journey.id)
    assert store.versions(journey.id) == [1] and store.get(journey.id).published_version == 1
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")        # version 1 keeps running
    assert [m["contact_id"] for m in world.sent()] == ["ann"]


def test_a_date_already_past_when_activating_is_refused(world):
    journey = simple_journey()
    wait = journey.add_node("wait", {"mode": "until_date", "until": "2026-03-01T09:00:00Z"})   # the clock: 03-02
    email = send_node(journey)
    email.ends = ("next",)
    chain(journey, journey.trigger(), wait, email)
    store = _stored(world, journey)
    with pytest.raises(JourneyNotReady) as refused:
        world.engine.activate(journey.id)
    assert [p.node_id for p in refused.value.problems] == [wait.id]
    assert store.versions(journey.id) == []


def test_a_draft_that_cannot_be_read_is_refused_with_where(world):
    journey = simple_journey()
    email = send_node(journey)
    email.ends = ("next",)
    chain(journey, journey.trigger(), email)
    document = to_document(journey)
    document["nodes"][1]["kind"] = "send_fax"
    store = JourneyStore(world.db)
    store.create(document)
    with pytest.raises(JourneyNotReady) as refused:
        world.engine.activate(journey.id)
    [problem] = refused.value.problems
    assert "unknown node kind 'send_fax'" in problem.message and problem.field == "/nodes/1/kind"
    assert store.versions(journey.id) == []


def test_the_simulator_goes_through_the_same_gate(world):
    with pytest.raises(JourneyNotReady):
        install_journey(world.db, _no_trigger(), world.clock.now())


# --- the CLI -------------------------------------------------------------------------




def test_cli_activate_prints_the_problems_and_exits_1(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    journey = simple_journey(name="Cart rescue")
    email = send_node(journey, sender="")
    email.ends = ("next",)
    chain(journey, journey.trigger(), email)
    path = tmp_path / "cart.json"
    path.write_text(json.dumps(to_document(journey)), encoding="utf-8")
    assert run_cli(capsys, "import", str(path), "--db", db)[0] == 0

    code, out, err = run_cli(capsys, "activate", "Cart rescue", "--db", db)
    assert code == 1
    assert f"Cart rescue: node {email.id} (Email · Hello ‹first_name›): The email has no sender (From)" in out
    assert "not activated" in err and "nothing was published" in err
    # `validate --active` on the same file prints the same problem
    code, out, _ = run_cli(capsys, "validate", "--active", str(path))
    assert code == 1 and f"node {email.id} (Email · Hello ‹first_name›): The email has no sender (From)" in out

    email.config["sender"] = "shop@example.com"
    path.write_text(json.dumps(to_document(journey)), encoding="utf-8")
    assert run_cli(capsys, "import", str(path), "--replace", "--db", db)[0] == 0
    code, out, _ = run_cli(capsys, "publish", "Cart rescue", "--db", db)
    assert code == 0 and "published version 1" in out
    code, out, _ = run_cli(capsys, "activate", "Cart rescue", "--db", db)
    assert code == 0 and "active; new contacts enter version 1" in out
    code, out, _ = run_cli(capsys, "publish", "Cart rescue", "--db", db)
    assert code == 0 and "nothing changed since version 1" in out


def test_cli_activate_of_an_unknown_journey_says_so(tmp_path, capsys):
    code, _out, err = run_cli(capsys, "activate", "Nope", "--db", str(tmp_path / "db.sqlite3"))
    assert code == 2 and "no journey named 'Nope'" in err


def _problem_lines(text: str, source: str) -> list[str]:
    """The problems printed for `source`, without the source's name (a file path or a journey name)."""
    return sorted(line.removeprefix(f"{source}: ") for line in text.splitlines()
                  if line.startswith(f"{source}: node "))


def test_validate_import_activate_publish_and_simulate_report_the_same_errors(tmp_path, capsys):
    """Every way of running a journey from the command line judges it as the engine's gate does: an
    email without a sender, a status check of a step that sends nothing, an empty SMS, an unknown
    variable — the same problems, and nothing runs."""
    db = str(tmp_path / "db.sqlite3")
    journey = simple_journey(name="Broken")
    email = send_node(journey, sender="", subject="Hi {{ shop.name }}", text="Hi. Unsubscribe: {{ unsubscribe_url }}")
    check = journey.add_node("message_status", {"step": journey.trigger().id, "status": "opened",
                                                "window": {"amount": 1, "unit": "days"}})
    sms = send_node(journey, channel="sms", subject="")
    sms.ends = ("next",)
    chain(journey, journey.trigger(), email, check)
    journey.connect(check.id, sms.id, "yes")
    check.ends = ("no",)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(to_document(journey)), encoding="utf-8")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")

    code, out, _ = run_cli(capsys, "validate", "--active", str(path), "--db", db)
    expected = _problem_lines(out, str(path))
    assert code == 1 and len(expected) == 4
    assert any("The email has no sender (From)" in line for line in expected)

    code, out, _ = run_cli(capsys, "import", str(path), "--db", db)
    assert code == 0 and "it has 4 error(s) to fix before it can be activated" in out
    for verb in ("activate", "publish"):
        code, out, err = run_cli(capsys, verb, "Broken", "--db", db)
        assert code == 1 and _problem_lines(out, "Broken") == expected and "nothing was published" in err
    code, out, err = run_cli(capsys, "simulate", str(path), "--contacts", str(contacts))
    assert code == 1 and _problem_lines(out, str(path)) == expected and "not simulated" in err
    assert "Traceback" not in err
    assert JourneyStore(open_database(f"sqlite:///{db}")).find("Broken").published_version is None
