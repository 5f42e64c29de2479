"""Rendering message templates: compiled once per (journey, version, node, field).

Templates run in the journey model's sandbox (they are user input). Compiling is
the expensive part, so a compiled template is cached per published version;
rendering for a contact only evaluates it.

The field decides the escaping: the `html` field renders in the HTML environment
(every printed value escaped), every other field (subject, text, message) in the
plain one. Missing values (absent, null or blank, at any depth) print the step's
fallback text and are reported, so the step can apply its policy (use the
fallback, skip the message, or stop the run); `| default(...)` sees them first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Template
from jinja2.exceptions import TemplateError

from app.journey.template_compile import compile_template, parse_template, template_line
from app.journey.template_limits import MAX_TEXT, Limits, TemplateLimitError, budget
from app.journey.templates import TemplateEnvironment, make_environment, template_problems
from app.journey.template_values import CURRENT_PASS, RenderPass, template_data

HTML_FIELDS = frozenset({"html"})     # the fields whose output is HTML, hence escaped
RUNAWAY_STRIKES = 3                   # renders out of budget before a template is not run again
MAX_MESSAGE = MAX_TEXT                # characters a field may render to (Gmail clips HTML past 102 KB)


class _Variables(dict[str, Any]):
    """Render variables already merged with the environment's globals."""


@dataclass(frozen=True)
class Rendered:
    """A field's text, the names of the missing values it printed, or the error that stopped it."""

    text: str
    missing: tuple[str, ...]
    error: str | None = None


class TemplateCache:
    """Compiled templates by key; `compiles` counts real compilations (tests assert on it)."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()      # each message's render budget (steps, time, allocation)
        self._runaway: dict[tuple[str, int, str, str], int] = {}     # key -> renders that ran out of budget
        self._plain = make_environment(html=False)
        self._html = make_environment(html=True)
        self._globals = dict(self._plain.globals)    # the same in both environments
        self._compiled: dict[tuple[str, int, str, str], Template | str] = {}
        self.compiles = 0

    def environment(self, field: str) -> TemplateEnvironment:
        return self._html if field in HTML_FIELDS else self._plain

    def get(self, key: tuple[str, int, str, str], source: str) -> Template | str:
        """The compiled template for `key` = (journey id, version, node id, field), or the reason it
        cannot run, as "template error: …" (cached too)."""
        found = self._compiled.get(key)
        if found is None:
            self.compiles += 1
            env = self.environment(key[3])
            try:
                tree = parse_template(env, source)      # nesting too deep is refused, not a crash
                refused = template_problems(tree)
                if refused:
                    raise TemplateError(f"line {refused[0].line}: {refused[0].message}")
                found = compile_template(env, tree, self.limits)
                # A plain dict, not Jinja's ChainMap over the environment's globals: every render
                # copies the globals' keys, and iterating a ChainMap is slow (the engine never
                # changes its environment's globals after this point).
                found.globals = dict(found.globals)
            except TemplateError as exc:
                found = f"template error in the {key[3]}: {exc}"
            self._compiled[key] = found
        return found

    def variables(self, context: dict[str, Any]) -> dict[str, Any]:
        """The render variables (the environment's globals under `context`), built once per message
        and shared by its fields' renders; templates assign into their own context, never into this."""
        return _Variables(self._globals, **{k: template_data(v, k) for k, v in context.items()})

    def render(self, key: tuple[str, int, str, str], source: str, context: dict[str, Any],
               fallback: str = "") -> Rendered:
        """Renders one field for one contact. `context`: {"contact", "event", "journey"} (or
        `variables()` of it). Never raises: a template error comes back in `Rendered.error`."""
        if not source:
            return Rendered("", ())
        template = self.get(key, source)
        if isinstance(template, str):
            return Rendered("", (), template)
        if self._runaway.get(key, 0) >= RUNAWAY_STRIKES:
            # Each runaway render costs the whole budget while the engine holds the database's write lock:
            # after a few, this template is not run again (for this version) until it is fixed.
            return Rendered("", (), f"template error in the {key[3]}: it ran too long for {RUNAWAY_STRIKES} "
                                    "messages already; it is not run again until the template is fixed")
        variables = context if type(context) is _Variables else self.variables(context)
        current = RenderPass(fallback)
        token = CURRENT_PASS.set(current)
        field = key[3]
        try:
            # Template.render without its two dict copies (one through a ChainMap) per call. The budget
            # (steps and wall-clock time) ends a runaway template, even one that prints nothing.
            with budget(self.limits) as spending:
                parts, size = [], 0
                for part in template.root_render_func(template.new_context(variables, shared=True)):
                    size += len(part)
                    if size > MAX_MESSAGE:      # a runaway loop: stop before it takes the machine's memory
                        raise TemplateError(f"the {field} is longer than {MAX_MESSAGE:,} characters")
                    parts.append(part)
                text = "".join(parts)
        except TemplateLimitError as exc:
            if spending.spent:      # out of steps or time (not merely a value too large)
                self._runaway[key] = self._runaway.get(key, 0) + 1
            line = template_line(template, exc.__traceback__)
            where = f" (line {line})" if line else ""
            return Rendered("", tuple(dict.fromkeys(current.missing)), f"template error in the {field}{where}: {exc}")
        except RecursionError:
            return Rendered("", tuple(dict.fromkeys(current.missing)),
                            f"template error in the {field}: it calls itself too deeply (a macro or a recursive loop)")
        except Exception as exc:  # noqa: BLE001 - user templates can raise anything (sandbox, type errors)
            line = template_line(template, exc.__traceback__)
            where = f" (line {line})" if line else ""
            return Rendered("", tuple(dict.fromkeys(current.missing)), f"template error in the {field}{where}: {exc}")
        finally:
            CURRENT_PASS.reset(token)
        return Rendered(text, tuple(dict.fromkeys(current.missing)))
