"""The attribute catalog: names seen at ingest, recorded once, read back grouped."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.store.catalog import VariableNames, known_variables, record_attributes
from app.store.tables import attribute_catalog


def test_empty_catalog(engine: Engine) -> None:
    assert known_variables(engine) == VariableNames(frozenset(), {})


def test_records_names_once_and_groups_them_by_scope(engine: Engine) -> None:
    with engine.begin() as conn:
        record_attributes(conn, "contact", ["vip_level", "birthday", "vip_level"])
        record_attributes(conn, "order_placed", ["order_total", "currency"])
    with engine.begin() as conn:  # a later ingest repeats and adds names
        record_attributes(conn, "contact", ["birthday", "loyalty_points"])
        record_attributes(conn, "order_placed", {"currency"})
        record_attributes(conn, "cart_abandoned", iter(["cart_url"]))

    names = known_variables(engine)
    assert names.contact_attributes == {"vip_level", "birthday", "loyalty_points"}
    assert names.event_properties == {
        "order_placed": frozenset({"order_total", "currency"}),
        "cart_abandoned": frozenset({"cart_url"}),
    }
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(attribute_catalog)).scalar_one() == 6


def test_unusable_names_are_skipped_without_failing_ingest(engine: Engine) -> None:
    with engine.begin() as conn:
        record_attributes(conn, "contact", ["", "x" * 201, "ok"])
        record_attributes(conn, "contact", [])
        record_attributes(conn, "e" * 101, ["too_long_scope"])
        record_attributes(conn, "", ["no_scope"])
    assert known_variables(engine) == VariableNames(frozenset({"ok"}), {})


def test_names_are_part_of_the_callers_transaction(engine: Engine) -> None:
    """If the ingest that carried the names rolls back, so do the names."""
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            record_attributes(conn, "contact", ["ghost"])
            raise RuntimeError("ingest failed")
    assert known_variables(engine).contact_attributes == frozenset()
