"""Rendering message templates: compiled once per (journey, version, node, field).

Templates run in the journey model's `SandboxedEnvironment` (they are user
input). Compiling is the expensive part, so a compiled template is cached per
published version; rendering for a contact only evaluates it.

Missing variables: `{{ contact.city }}` for a contact without a city renders
the step's fallback text and is reported, so the step can apply its policy
(use the fallback, skip the message, or stop the run). `| default(...)` still
works as usual because the filter sees the undefined value first.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterator

from jinja2 import Template, Undefined
from jinja2.exceptions import TemplateError

from app.journey.templates import make_environment


@dataclass
class _Pass:
    fallback: str = ""
    missing: list[str] = field(default_factory=list)


_CURRENT: ContextVar[_Pass | None] = ContextVar("render_pass", default=None)


class _RecordingUndefined(Undefined):
    """Prints as the fallback text and notes its own name."""

    __slots__ = ()

    def _note(self) -> _Pass | None:
        current = _CURRENT.get()
        if current is not None:
            current.missing.append(self._undefined_name or "?")
        return current

    def __str__(self) -> str:
        current = self._note()
        return current.fallback if current else ""

    def __iter__(self) -> Iterator[Any]:
        self._note()
        return iter(())


class _Variables(dict[str, Any]):
    """Render variables already merged with the environment's globals."""


@dataclass(frozen=True)
class Rendered:
    text: str
    missing: tuple[str, ...]
    error: str | None = None


class TemplateCache:
    """Compiled templates by key; `compiles` counts real compilations (tests assert on it)."""

    def __init__(self) -> None:
        self._env = make_environment()
        self._env.undefined = _RecordingUndefined
        # The journey environment's getattr tests `isinstance(obj, Mapping)` (an ABC check) on every
        # attribute; plain dicts — all the engine passes in — answer the same through a direct lookup.
        lookup = self._env.getattr

        def getattr_fast(obj: Any, attribute: str) -> Any:
            if type(obj) is dict and attribute in obj:
                return obj[attribute]
            return lookup(obj, attribute)

        self._env.getattr = getattr_fast  # type: ignore[method-assign]
        self._globals = dict(self._env.globals)
        self._compiled: dict[tuple[str, int, str, str], Template | str] = {}
        self.compiles = 0

    def get(self, key: tuple[str, int, str, str], source: str) -> Template | str:
        """The compiled template, or the syntax error's message (cached too)."""
        found = self._compiled.get(key)
        if found is None:
            self.compiles += 1
            try:
                found = self._env.from_string(source)
                # A plain dict, not Jinja's ChainMap over the environment's globals: every render
                # copies the globals' keys, and iterating a ChainMap is slow (the engine never
                # changes its environment's globals after this point).
                found.globals = dict(found.globals)
            except TemplateError as exc:
                found = f"template error: {exc}"
            self._compiled[key] = found
        return found

    def variables(self, context: dict[str, Any]) -> dict[str, Any]:
        """The render variables (the environment's globals under `context`), built once per message
        and shared by its fields' renders; templates assign into their own context, never into this."""
        return _Variables(self._globals, **context)

    def render(self, key: tuple[str, int, str, str], source: str, context: dict[str, Any],
               fallback: str = "") -> Rendered:
        if not source:
            return Rendered("", ())
        template = self.get(key, source)
        if isinstance(template, str):
            return Rendered("", (), template)
        variables = context if type(context) is _Variables else self.variables(context)
        current = _Pass(fallback)
        token = _CURRENT.set(current)
        try:
            # Template.render without its two dict copies (one through a ChainMap) per call.
            text = self._env.concat(template.root_render_func(template.new_context(variables, shared=True)))
        except Exception as exc:  # noqa: BLE001 - user templates can raise anything (sandbox, type errors)
            return Rendered("", tuple(current.missing), f"template error: {exc}")
        finally:
            _CURRENT.reset(token)
        return Rendered(text, tuple(dict.fromkeys(current.missing)))
