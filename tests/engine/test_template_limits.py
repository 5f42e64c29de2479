"""Templates cannot exhaust the machine or change shared data (issue 9, section 4).

Each hostile template ends, quickly, as a template error for that field (rendering) and as a
problem (validation), never as a hang or gigabytes. No test asserts on time: the render budget's
step count is deterministic, and a small budget keeps the runaway cases fast.
"""
from __future__ import annotations

from typing import Any

import pytest

from app.engine.templating import Rendered, TemplateCache
from app.journey.template_limits import Limits
from app.journey.templates import inspect_template

SMALL = Limits(steps=20_000)          # deterministic: a runaway loop stops after 20,000 steps
DATA = {"contact": {"first_name": "Ann", "tags": ["vip"]}, "event": {"cart_url": "https://shop.example/c/1",
                                                                      "items": [{"title": "Mug"}]},
        "journey": {"name": "Cart"}}


def render(source: str, field: str = "subject", limits: Limits = SMALL, cache: TemplateCache | None = None,
           variables: Any = None) -> Rendered:
    cache = cache or TemplateCache(limits)
    return cache.render(("j", 1, "n", field), source, variables if variables is not None else DATA)


def assert_refused(source: str, *fragments: str, field: str = "subject") -> None:
    result = render(source, field)
    assert result.error is not None and result.text == "", result
    assert result.error.startswith("template error") and f"the {field}" in result.error, result.error
    assert any(f in result.error for f in fragments), result.error


def assert_flagged(source: str, *fragments: str) -> None:
    info = inspect_template(source)
    found = [info.error] if info.error else [p.message for p in info.problems]
    assert any(f in m for m in found for f in fragments), found


TOO_LONG = ("too long", "too large", "longer than", "too much text")
RUNS_LONG = ("runs too long", "calls itself too deeply")

# --- The issue's examples ------------------------------------------------------------------------

ISSUE_EXAMPLES = [
    ("{{ 'a' * 10**9 }}", TOO_LONG),
    ("{{ '%0999999999d' % 1 }}", TOO_LONG),
    ("{{ 'x'|center(999999999) }}", TOO_LONG),
    ("{{ 'x'.ljust(999999999) }}", TOO_LONG),
    ("{{ 'x'.rjust(999999999) }}", TOO_LONG),
    ("{{ '7'.zfill(999999999) }}", TOO_LONG),
    ("{{ '%999999999s'|format('x') }}", TOO_LONG),
    ("{{ '{:>999999999}'.format('x') }}", TOO_LONG),
    ("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
     TOO_LONG),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done", RUNS_LONG),
    ("{{ lipsum(1000000) }}", ("lipsum",)),
    ("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(64) }}", RUNS_LONG),
    ("{{ 9**(9**9) }}", ("too large a number",)),
]


@pytest.mark.parametrize("source, fragments", ISSUE_EXAMPLES)
def test_each_example_of_the_issue_is_a_template_error_for_the_field(source, fragments):
    assert_refused(source, *fragments)


@pytest.mark.parametrize("source, fragments", ISSUE_EXAMPLES)
def test_each_example_of_the_issue_is_a_problem_validation_reports_and_returns(source, fragments):
    assert_flagged(source, *fragments)


# --- More of the class: operators and filters that build large values -----------------------------

@pytest.mark.parametrize("source", [
    "{{ [1, 2] * 10**9 }}",
    "{{ ['x' * 99999] * 99999 }}",                                  # each item long: the list is huge
    "{{ ('x' * 99999) + ('x' * 99999) }}",
    "{{ '%s%s' % ('x' * 99999, 'x' * 99999) }}",
    "{{ '%.999999f' % 1.5 }}",
    "{{ '%(a)999999s' % {'a': 1} }}",
    "{{ '{0:{1}}'.format('x', 10**9) }}",
    "{{ 'x' | indent(999999) }}",
    "{{ ('x\n' * 49999) | indent(99999) }}",                       # each argument small, the product huge
    "{{ ('x ' * 49999) | wordwrap(1, wrapstring='y' * 999) }}",
    "{{ ('x' * 99999) | replace('x', 'xx') }}",
    "{{ ('x' * 99999).replace('', 'yy') }}",
    "{{ 'x' | truncate(10**9) }}",
    "{{ [1] | batch(10**9, 0) | list }}",
    "{{ range(10) | slice(10**9) | list }}",
    "{{ range(100000) | join('x' * 99999) }}",
    "{{ ('x' * 99999).join(['a', 'b', 'c']) }}",
    "{{ (['x' * 99999] * 9) | join }}",
    "{{ range(100000) | map('center', 99999) | list | length }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{% set ns = namespace(n=2) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}",
    "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}{{ ns.s }}",
    "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}"
    "{{ ns.s ~ '' }}",
    "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}"
    "{{ ns.s | upper }}",
    "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{% set ns = namespace(d={}) %}{% for i in range(64) %}{% set ns.d = {'a': ns.d, 'b': ns.d} %}{% endfor %}"
    "{{ '%s' % (ns.d,) }}",
    "{{ (2**64) ** 64 ** 2 }}",
    "{{ 2 ** 4097 }}",
    "{{ lipsum(5, max=10**9) }}",
    "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('x') }}",
    "{% set s = 'x' * 99999 %}{% macro m() %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endmacro %}"
    "{{ m() | length }}",
    "{% set t %}{% for i in range(100000) %}{{ 'x' * 99999 }}{% endfor %}{% endset %}{{ t | length }}",
    "{% filter upper %}{% for i in range(100000) %}xxxxxxxxxx{% endfor %}{% endfilter %}",
    "{% for i in range(100000) %}{{ loop.cycle('x' * 99999, 'y') }}{% endfor %}",
    "{% for i in range(100000) %}{{ 'x' * 99 }}{% endfor %}",         # the message itself over the limit
    "{{ [[0]] * 99999 | sum(start=[]) }}",
    # Doubled by reference: few distinct lists, but comparing or printing them would take 2**64 steps.
    "{% set ns = namespace(a=[1], b=[1]) %}{% for i in range(64) %}{% set ns.a = [ns.a, ns.a] %}"
    "{% set ns.b = [ns.b, ns.b] %}{% endfor %}{{ ns.a == ns.b }}",
    "{% macro f(x, n) %}{% if n %}{{ f([x, x], n - 1) }}{% else %}{{ x == [x] }}{% endif %}{% endmacro %}{{ f(1, 64) }}",
    "{% set ns = namespace(t=(1,)) %}{% for i in range(64) %}{% set ns.t = (ns.t, ns.t) %}{% endfor %}",
    "{{ dict(a='x' * 99999).values() | list | string | center(99999) ~ ('x' * 99999) }}",
])
def test_values_larger_than_a_message_are_refused_before_they_are_built(source):
    assert_refused(source, *TOO_LONG, "too much work", "sum adds numbers", "lipsum", "runs too long")


# --- More of the class: work that never ends, even printing nothing --------------------------------

@pytest.mark.parametrize("source", [
    "{% for i in range(100000) %}{% for c in 'x' * 99999 %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) if j > 0 %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{{ loop.index and '' }}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for x in 'x' * 99999 recursive %}{% endfor %}{% endfor %}",
    "{% for x in [[1, 1], [1, 1]] recursive %}{{ loop([x, x]) }}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% else %}x{% endif %}{% endmacro %}{{ f(64) | length }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% macro m() %}{{ caller() }}{{ caller() }}{% endmacro %}{% macro f(n) %}{% if n %}{% call m() %}"
    "{{ f(n-1) }}{% endcall %}{% endif %}{% endmacro %}{{ f(64) }}",
    "{% set ns = namespace(s='x' * 1000) %}{% for i in range(100000) %}{% for j in range(100000) %}"
    "{% set ns.s = ns.s | replace('x', 'x') %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% set e = range(100000) | select('odd') | list %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% set s = 'ab' ~ i ~ j %}{% endfor %}{% endfor %}",
    "{{ range(100000) | map('string') | map('center', 9) | join | length }}"
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
])
def test_runaway_work_ends_as_a_template_error(source):
    assert_refused(source, *RUNS_LONG, "too much text", "longer than")


def test_the_wall_clock_budget_ends_a_loop_even_with_steps_to_spare():
    # A budget of steps the loop never spends up: the wall-clock part ends it (no timing is asserted).
    result = render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                    limits=Limits(steps=10**12, seconds=0.01))
    assert result.error and "took longer than 10 ms" in result.error


def test_a_runaway_field_does_not_stop_the_other_fields_or_the_next_render():
    cache = TemplateCache(SMALL)
    runaway = render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                     cache=cache)
    assert runaway.error and "runs too long" in runaway.error
    assert render("Hi {{ contact.first_name }}", "text", cache=cache) == Rendered("Hi Ann", ())
    assert render("{% for i in range(1000) %}{% endfor %}ok", "html", cache=cache) == Rendered("ok", ())


def test_a_template_that_keeps_running_out_of_budget_is_not_run_again_for_that_version():
    # Each runaway render costs a whole budget while the engine holds the write lock: after three, no more.
    cache = TemplateCache(SMALL)
    source = "{% if event.slow %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endif %}ok"
    slow = {**DATA, "event": {"slow": True}}
    errors = [render(source, "text", cache=cache, variables=slow).error for _ in range(4)]
    assert all("runs too long" in e for e in errors[:3]) and "ran too long for 3 messages already" in errors[3]
    assert "ran too long" in render(source, "text", cache=cache).error          # even for harmless data
    assert render(source, "html", cache=cache) == Rendered("ok", ())            # another field runs as before
    assert render("{{ 'a' * 10**9 }}", "subject", cache=cache).error.count("too long") == 1   # sizes are no strike


@pytest.mark.parametrize("source, expected", [
    ("{{ 2 ** 64 }} {{ '=' * 20 }} {{ 'x' | center(5) }}|{{ '%05d' % 42 }} {{ '{:>6}'.format('ab') }}",
     "18446744073709551616 ====================   x  |00042     ab"),
    ("{% for i in range(3) %}{% for j in range(3) %}{{ i * j }}{% endfor %}{% endfor %}", "000012024"),
    ("{{ lipsum(1, false, 5, 6) | wordcount }}", "5"),
    ("{% set ns = namespace(total=0) %}{% for i in event.items %}{% set ns.total = ns.total + 1 %}{% endfor %}"
     "{{ ns.total }}", "1"),
    ("{% macro row(n) %}{% if n %}{{ row(n - 1) }}{{ n }}{% endif %}{% endmacro %}{{ row(5) }}", "12345"),
    ("{{ event.items | map(attribute='title') | join(', ') }} {{ ('ab' ~ 'cd') | upper }}", "Mug ABCD"),
    ("{{ range(1000) | sum }} {{ [1, 2] * 3 }} {{ 'a,b'.split(',') | join('+') }}", "499500 1, 2, 1, 2, 1, 2 a+b"),
])
def test_ordinary_templates_render_as_before(source, expected):
    assert render(source, "text", limits=Limits()) == Rendered(expected, ())


# --- Compiling: deep nesting and constant folding never hang or crash -----------------------------

@pytest.mark.parametrize("source", [
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "{{ " + "(" * 150 + "1" + ")" * 150 + " }}",
    "{{ " + "[" * 300 + "]" * 300 + " }}",
    "{{ 1" + " + 1" * 3000 + " }}",
    "{{ 'x'" + " | upper" * 3000 + " }}",
    "{% if true %}" * 200 + "x" + "{% endif %}" * 200,
    "{% for i in [1] %}" * 40 + "x" + "{% endfor %}" * 40,
    "{{ -" * 3000 + "1 }}",
])
def test_deep_nesting_is_a_clear_error_when_rendering_and_validating(source):
    result = render(source)
    assert result.error and "nests too deeply" in result.error
    info = inspect_template(source)
    assert info.error and "nests too deeply" in info.error and info.error_line


def test_constant_parts_are_checked_under_the_same_limits_while_compiling():
    # Jinja evaluates filters of literals while compiling: each is bounded like at render time.
    for source in ("{{ 'x' | center(99999) | center(99999) | replace('x', 'xxxxxxxxxx') }}",
                   "{{ ('x' * 99999) | wordwrap(1) | wordwrap(1) }}", "{{ 'ab' | indent(99999, true) | indent(99) }}"):
        result = render(source)
        assert result.error and any(f in result.error for f in TOO_LONG), (source, result)


def test_validation_leaves_templates_that_depend_on_the_data_to_the_engine():
    # Only what fails whatever the data is reported; `range(event.count)` cannot be judged without data.
    for source in ("{% for i in range(event.count) %}x{% endfor %}", "{{ event.total * 2 }}",
                   "{% if event.vip %}{{ 'a' * event.times }}{% endif %}"):
        assert inspect_template(source).problems == () and inspect_template(source).error is None


# --- Templates cannot change the data other fields and messages see ---------------------------------

@pytest.mark.parametrize("change", [
    "{% set _ = event.update({'cart_url': 'X'}) %}",
    "{% set _ = dict.update(event, {'cart_url': 'X'}) %}",
    "{% set _ = event.pop('cart_url') %}",
    "{% set _ = event.setdefault('cart_url', 'X') %}",
    "{% set _ = event.__setitem__('cart_url', 'X') %}",
    "{% set _ = (event | attr('update'))({'cart_url': 'X'}) %}",
    "{% set _ = event.items.append({'title': 'TV'}) %}",
    "{% set _ = event.items.pop() %}",
    "{% set _ = contact.tags.append('x') %}{% set _ = contact.tags.clear() %}",
    "{% set _ = contact.update({'first_name': 'X'}) %}",
    "{% set _ = journey.update({'name': 'X'}) %}",
    "{% set _ = dict.clear(contact) %}{% set _ = dict.setdefault(event, 'cart_url', 'X') %}",
    "{% set e = event %}{% set _ = e.items.extend([1]) %}{% set _ = event.items.sort() %}",
])
def test_a_field_cannot_change_the_data_the_next_field_or_message_sees(change):
    cache = TemplateCache()
    reader = "{{ contact.first_name }} {{ contact.tags }} {{ event.cart_url }} {{ event.items }} {{ journey.name }}"
    expected = "Ann vip https://shop.example/c/1 Mug Cart"
    variables = cache.variables(DATA)
    render(change + "Hi", "subject", cache=cache, variables=variables)       # an error or nothing: never a change
    assert render(reader, "html", cache=cache, variables=variables).text == expected
    assert render(reader, "text", cache=cache, variables=cache.variables(DATA)).text == expected
    assert DATA["event"]["cart_url"] == "https://shop.example/c/1" and len(DATA["event"]["items"]) == 1
    assert DATA["contact"]["tags"] == ["vip"] and DATA["journey"] == {"name": "Cart"}


# --- Through the engine: a runaway template fails that message; the batch and other messages go on ----

def test_a_runaway_template_fails_only_its_message_and_the_batch_goes_on(world):
    from .helpers import CONTACTS, chain, send_node, simple_journey

    world.contacts(CONTACTS)
    journey = simple_journey()
    # Validation cannot know who is a "vip": the hang only shows with cho's data, in the engine.
    send = send_node(journey, subject="Hi {{ contact.first_name }}", text=(
        "{% if 'vip' in contact.tags %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
        "{% endfor %}{% endif %}{{ event.cart_url }}"), html="")
    chain(journey, journey.trigger(), send)
    world.install(journey)
    for name in ("ann", "cho", "bob"):
        world.event(name, "cart_abandoned", "2026-03-02T10:00:00Z", cart_url="https://shop.example/c")
    ann, cho = world.sent("ann"), world.messages("cho")
    assert [m["body_text"] for m in ann] == ["https://shop.example/c"] and cho == []
    [failed] = world.log("cho", "failed")
    assert failed["reason"] == "template_error" and failed["detail"]["field"] == "text"
    assert "runs too long" in failed["detail"]["error"]
    world.event("ann", "cart_abandoned", "2026-03-02T11:00:00Z", cart_url="https://shop.example/c")  # still working


def test_a_subject_that_tries_to_change_the_event_leaves_the_next_fields_and_messages_alone(world):
    from .helpers import CONTACTS, chain, send_node, simple_journey

    world.contacts(CONTACTS)
    journey = simple_journey()
    first = send_node(journey, subject="{% set _ = event.update({'cart_url': 'X'}) %}Your cart",
                      text="{{ event.cart_url }}", html="<p>{{ event.cart_url }}</p>")
    second = send_node(journey, subject="Again", text="{{ event.cart_url }}", html="")
    chain(journey, journey.trigger(), first, second)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", cart_url="https://shop.example/c")
    sent = world.sent("ann")
    assert [m["body_text"] for m in sent] == ["https://shop.example/c"] * 2
    assert sent[0]["body_html"] == "<p>https://shop.example/c</p>"


def test_validate_reports_a_runaway_template_and_returns(tmp_path, capsys):
    from app.journey.fileformat import save

    from ..journey.helpers import email, linear
    from .helpers import run_cli

    path = tmp_path / "hostile.json"
    save(linear(email(subject="{{ 9**(9**9) }}", text="{% for i in range(100000) %}{% for j in range(100000) %}"
                      "{% endfor %}{% endfor %}")), path)
    code, out, _err = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert "too large a number" in out and "runs too long" in out
