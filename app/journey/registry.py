"""The one registry of node kinds.

Palette, inspector, connection rules, validation, the file format and the engine
all read a kind's declaration from here; adding a kind is one `register` call in
`node_kinds.py` and one engine handler.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .checks import FieldIssue
from .schema import Config, Field, SchemaError, coerce, defaults


@dataclass(frozen=True)
class Outcome:
    """A named output port. Contacts leave a node through exactly one outcome."""

    name: str
    label: str


NEXT = Outcome("next", "Next")


def _no_checks(config: Config) -> list[FieldIssue]:
    return []


@dataclass(frozen=True)
class NodeKind:
    id: str
    version: int
    title: str
    description: str
    icon: str                      # file stem in resources/icons/
    colour: str                    # "#rrggbb", the kind's colour on canvas, palette and minimap
    schema: tuple[Field, ...]
    summarize: Callable[[Config], str]
    outcomes: tuple[Outcome, ...] = (NEXT,)
    has_input: bool = True         # triggers have none: nothing may lead into them
    max_per_journey: int | None = None
    check: Callable[[Config], list[FieldIssue]] = _no_checks   # rules across fields
    # Upgrades a config written by an older version of this kind, one version at a time.
    migrations: dict[int, Callable[[Config], Config]] = field(default_factory=dict)

    def default_config(self) -> Config:
        return defaults(self.schema)

    def outcome(self, name: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.name == name), None)

    def outcome_label(self, name: str) -> str:
        """The outcome's label ("Yes"), or the name itself for an outcome the kind does not have."""
        found = self.outcome(name)
        return found.label if found is not None else name

    def load_config(self, raw: Config, written_version: int, pointer: str = "") -> Config:
        """Migrates an older config forward, then fills defaults and checks types."""
        if not isinstance(raw, dict):        # before any migration, which reads it as an object
            got = "null" if raw is None else type(raw).__name__
            raise SchemaError(pointer or "/", f"expected an object, got {got}")
        config = raw
        for version in range(written_version, self.version):
            config = self.migrations[version](config)
        return coerce(self.schema, config, pointer)


class UnknownKind(KeyError):
    pass


_KINDS: dict[str, NodeKind] = {}


def register(kind: NodeKind) -> NodeKind:
    if kind.id in _KINDS:
        raise ValueError(f"node kind {kind.id!r} is registered twice")
    missing = [v for v in range(1, kind.version) if v not in kind.migrations]
    if missing:
        raise ValueError(f"node kind {kind.id!r} has no migration from version(s) {missing}")
    _KINDS[kind.id] = kind
    return kind


def get_kind(kind_id: str) -> NodeKind:
    try:
        return _KINDS[kind_id]
    except KeyError:
        raise UnknownKind(kind_id) from None


def all_kinds() -> tuple[NodeKind, ...]:
    """In declaration order, which is also the palette order."""
    return tuple(_KINDS.values())


def kind_ids() -> tuple[str, ...]:
    return tuple(_KINDS)
