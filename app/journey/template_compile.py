"""Compiling message templates safely: loops that count their turns, joins that check their size,
and parsing that survives hostile nesting.

Jinja turns a template into Python source and compiles it. Three things in that path are
changed here (app/journey/template_limits.py has the limits themselves):

- every `{% for %}` iterates through `environment.loop_items`, which spends one step of the
  render budget per turn, so a loop that prints nothing still ends;
- `~` joins through `environment.join_texts`, which refuses a text over the limit *before*
  building it (Jinja's own `str_join` is not interceptable by the sandbox);
- parsing and compiling catch what nesting can raise (RecursionError from 5,000 parentheses,
  Python's "too many statically nested blocks") and refuse templates nested deeper than
  MAX_NESTING, as a template error with a line number rather than a crash.
"""
from __future__ import annotations

from types import TracebackType

from jinja2 import Environment, Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst

from .template_limits import MAX_NESTING, Limits, budget


def _counted(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Call) and isinstance(node.node, nodes.EnvironmentAttribute) and \
        node.node.name == "loop_items"


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with counted loops and size-checked `~`."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # Jinja allows no custom node types: the iterable becomes `environment.loop_items(iterable)`.
        if not _counted(node.iter):
            line = node.iter.lineno
            node.iter = nodes.Call(nodes.EnvironmentAttribute("loop_items", lineno=line), [node.iter], [],
                                   None, None, lineno=line)
        super().visit_For(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            markup = "context.eval_ctx.autoescape"
        else:
            markup = "True" if frame.eval_ctx.autoescape else "False"
        self.write("environment.join_texts((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(f"), {markup})")


def _too_deep(tree: nodes.Node) -> int | None:
    """The line at which `tree` nests deeper than MAX_NESTING levels, or None (walked without recursion)."""
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            return getattr(node, "lineno", 1) or 1
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


def nesting_error(line: int | None) -> TemplateSyntaxError:
    return TemplateSyntaxError(f"the template nests too deeply (more than {MAX_NESTING} levels of brackets, "
                               "tags or filters); split it into simpler parts", line or 1)


def parse_template(env: Environment, source: str) -> nodes.Template:
    """The parsed template. Raises TemplateSyntaxError for a syntax error and for nesting too deep
    (which would crash the parser or Python's compiler)."""
    try:
        tree = env.parse(source)
    except RecursionError:
        raise nesting_error(None) from None
    except (MemoryError, ValueError, OverflowError) as exc:   # the lexer on hostile input
        raise TemplateSyntaxError(f"the template cannot be read: {exc}", 1) from None
    line = _too_deep(tree)
    if line is not None:
        raise nesting_error(line)
    return tree


def compile_template(env: Environment, tree: nodes.Template, limits: Limits | None = None) -> Template:
    """`tree` compiled, under the same budget as a render (Jinja evaluates constant parts, such as
    filters of literals, while compiling). Raises TemplateSyntaxError when it nests too deeply for
    Python, TemplateLimitError when a constant part is too large or slow."""
    try:
        with budget(limits):
            return env.from_string(tree)
    except (RecursionError, SyntaxError, MemoryError) as exc:
        if isinstance(exc, TemplateSyntaxError):
            raise
        raise nesting_error(None) from None


def template_line(template: Template | None, tb: TracebackType | None) -> int | None:
    """The template line at which an exception raised while rendering `template` happened."""
    found = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            found = tb.tb_lineno
        tb = tb.tb_next
    if found is None:
        return None
    if template is not None:
        try:
            return template.get_corresponding_lineno(found)
        except Exception:  # noqa: BLE001 - only a line number for a message
            return None
    return found
