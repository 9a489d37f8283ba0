"""The form engine: which questions are visible, what the rules say, what is computed
(walking them, question by question, is models/forms/walk.py).

Every function is stateless: it takes the form, the answers so far and the school's
context, and derives everything from them, so the conversation state can live in the
database (one row per answer) and any bot process can carry on from it.

Answers are `dict[(field_code, item), value]`: item 0 for top-level fields, 0..n-1 for
the fields of a group's items, plus two bookkeeping keys per group:
(group_code, ITEM_COUNT) -> int items added, (group_code, ITEM_DONE) -> bool "no more".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from models.forms.definition import (
    ITEM_COUNT,
    ITEM_DONE,
    STAGES,
    AnswerKey,
    Answers,
    ComputedDef,
    FieldDef,
    FormDef,
    FormError,
    GroupDef,
    KeyTotalDef,
    RuleDef,
    Severity,
    Text,
    Value,
)
from models.forms.expr_values import DECIMAL_CONTEXT, Env, Expr, round_half_up
from models.forms.parsing import format_value

StepKind = Literal["field", "add_item"]


@dataclass(frozen=True, slots=True)
class Step:
    """One question of the conversation.

    kind "field": ask `field`; store the answer under `key`.
    kind "add_item": ask whether to add an item to `group` (`item` items so far; word
    it "add a ...?" when item == 0, "add another ...?" otherwise). Answer it with
    add_item() or finish_group(); key is (group_code, ITEM_DONE).
    """

    key: AnswerKey
    kind: StepKind
    field: FieldDef | None
    group: GroupDef | None
    item: int | None
    """0-based item index for group fields; the number of items so far for add_item."""
    position: int
    """1-based position among the visible steps."""
    total: int
    number: int = 0
    """What people count in: 1-based among the form's own questions for a field outside
    groups ("3/14"), among its item's questions for a group field ("培训项目 2 · 3/6");
    0 for add_item."""
    count: int = 0
    """The questions of that same scope asked or still to be asked: a follow-up whose
    condition is not decided yet counts, one an answer has ruled out does not, so the
    count does not grow as answers come in."""

    @property
    def asks_first_item(self) -> bool:
        """Whether there is any item at all, before the first: never worded as "another"
        (the group's add_prompt), which only follows an item."""
        return self.kind == "add_item" and self.item == 0

    @property
    def item_number(self) -> int | None:
        """The 1-based item number people see ("programme 2"), None outside groups."""
        if self.item is None:
            return None
        return self.item + 1 if self.kind == "field" else self.item


@dataclass(frozen=True, slots=True)
class RuleResult:
    """A rule that failed. Errors must be fixed; warnings may be confirmed past."""

    rule: str
    severity: Severity
    message: dict[str, str]
    """{"zh": ..., "en": ...}, with {field} placeholders filled in."""
    fields: tuple[str, ...]
    keys: tuple[AnswerKey, ...]
    """The answers to revisit, in form order (per-item rules: that item's)."""
    item: int | None = None


@dataclass(frozen=True, slots=True)
class KeyTotalResult:
    code: str
    label: Text
    aggregate: Literal["sum", "ratio"]
    value: int | Decimal | None
    """None when no school gave a value (or a ratio's denominator sums to 0)."""
    schools: int
    """Submissions that contributed a value (for a ratio: both parts)."""
    by: dict[str, int | Decimal | None] = field(default_factory=dict)
    """Breakdown by the context value named in `by` (e.g. stage code); schools
    without that context value count only in the overall value."""
    unit: Text | None = None
    numerator: int | Decimal | None = None
    denominator: int | Decimal | None = None


# --- resolving visibility --------------------------------------------------------------

_RawStep = tuple[AnswerKey, StepKind, FieldDef | None, GroupDef | None, int | None]
_Scope = tuple[str, int] | None
"""Where a question is counted: None for the form's own, (group, item) for an item's."""


class _State:
    __slots__ = ("asked", "env", "steps")

    def __init__(self, env: Env, steps: list[_RawStep]) -> None:
        self.env = env
        self.steps = steps
        self.asked: list[tuple[AnswerKey, _Scope]] = []
        """The fields shown or still undecided, in order, with their scope."""


def _shown(expr: Expr | None, env: Env) -> bool | None:
    """A show_if's verdict: True (asked), False (ruled out), None (not decided yet: it
    reads an answer still to come)."""
    if expr is None:
        return True
    verdict = expr.evaluate(env)
    return True if verdict is True else None if verdict is None else False


def item_count(group: GroupDef, answers: Mapping[AnswerKey, Value]) -> int:
    """Items the group has: those added, at least min_items, at most max_items."""
    stored = answers.get((group.code, ITEM_COUNT))
    n = stored if isinstance(stored, int) and not isinstance(stored, bool) else 0
    return min(max(n, group.min_items), group.max_items)


def _resolve(
    form: FormDef,
    answers: Mapping[AnswerKey, Value],
    context: Mapping[str, Value | None],
    with_steps: bool = True,
) -> _State:
    values: dict[str, Value | None] = {name: context.get(name) for name in form.context}
    groups: dict[str, list[dict[str, Value | None]]] = {}
    env = Env(values, groups)
    steps: list[_RawStep] = []
    state = _State(env, steps)
    asked = state.asked
    for entry in form.items:
        if isinstance(entry, FieldDef):
            shown = _shown(entry.show_if, env)
            values[entry.code] = answers.get((entry.code, 0)) if shown else None
            if with_steps and shown:
                steps.append(((entry.code, 0), "field", entry, None, None))
            if with_steps and shown is not False:
                asked.append(((entry.code, 0), None))
            continue
        g = entry
        items: list[dict[str, Value | None]] = []
        groups[g.code] = items
        if g.show_if is not None and g.show_if.evaluate(env) is not True:
            continue
        n = item_count(g, answers)
        for i in range(n):
            item: dict[str, Value | None] = {}
            env.item = item
            for f in g.fields:
                shown = _shown(f.show_if, env)
                item[f.code] = answers.get((f.code, i)) if shown else None
                if with_steps and shown:
                    steps.append(((f.code, i), "field", f, g, i))
                if with_steps and shown is not False:
                    asked.append(((f.code, i), (g.code, i)))
            items.append(item)
        env.item = None
        if with_steps and n < g.max_items:
            steps.append(((g.code, ITEM_DONE), "add_item", None, g, n))
    return state


def _compute(form: FormDef, env: Env, only: frozenset[str] | None = None) -> None:
    for c in form.computed:
        if only is not None and c.code not in only:
            continue
        v = c.expr.evaluate(env)
        if c.decimals is not None and isinstance(v, int | Decimal) and not isinstance(v, bool):
            v = round_half_up(v, c.decimals)
        env.values[c.code] = v


def _to_steps(state: _State) -> list[Step]:
    raw = state.steps
    total = len(raw)
    counts: dict[_Scope, int] = {}
    numbers: dict[AnswerKey, int] = {}
    for key, scope in state.asked:
        counts[scope] = numbers[key] = counts.get(scope, 0) + 1
    out = []
    for i, (key, kind, f, g, item) in enumerate(raw):
        scope = None if g is None or item is None else (g.code, item)
        number, count = (numbers[key], counts[scope]) if kind == "field" else (0, 0)
        out.append(Step(key, kind, f, g, item, i + 1, total, number, count))
    return out


# --- the public API --------------------------------------------------------------------


def steps(
    form: FormDef, answers: Mapping[AnswerKey, Value], context: Mapping[str, Value | None]
) -> list[Step]:
    """The visible questions in order, given the answers so far.

    Kept per form by what decides them (the answers a show_if reads, the groups' item
    counts, the context): most answers decide nothing, and resolving a 30-question form
    twice a step was a tenth of the report step's own work (bench/report_step.py)."""
    key = _deciding(form, answers, context)
    found = form.steps_cache.get(key)
    if found is None:
        if len(form.steps_cache) >= STEPS_KEPT:
            form.steps_cache.clear()
        found = form.steps_cache[key] = _to_steps(_resolve(form, answers, context))
    return list(found)


STEPS_KEPT = 512
"""Question lists kept per form: one per combination of deciding answers seen lately."""


def _deciding(
    form: FormDef, answers: Mapping[AnswerKey, Value], context: Mapping[str, Value | None]
) -> object:
    """What the visible questions depend on, as a key (lists made tuples)."""
    read = tuple(
        (key, tuple(v) if isinstance(v, list) else v)
        for key, v in answers.items()
        if form.decides_visibility(key[0])
    )
    return (tuple(sorted(read, key=_by_key)), tuple(context.get(n) for n in form.context))


def _by_key(pair: tuple[AnswerKey, object]) -> AnswerKey:
    return pair[0]


@dataclass(frozen=True, slots=True)
class Outline:
    """How many questions a form asks, as its opening screen says it: its own questions
    (those ruled out by the answers so far left out), and for each repeatable group
    shown, the questions of one item."""

    questions: int
    per_item: tuple[tuple[GroupDef, int], ...]


def outline(
    form: FormDef, answers: Mapping[AnswerKey, Value], context: Mapping[str, Value | None]
) -> Outline:
    state = _resolve(form, answers, context)
    own = sum(1 for _key, scope in state.asked if scope is None)
    env = state.env
    per_item = []
    for g in form.groups:
        if _shown(g.show_if, env) is False:
            continue
        env.item = {}  # a new item: its own follow-ups are all undecided
        per_item.append((g, sum(1 for f in g.fields if _shown(f.show_if, env) is not False)))
    env.item = None
    return Outline(own, tuple(per_item))


def clean(
    form: FormDef, answers: Mapping[AnswerKey, Value], context: Mapping[str, Value | None]
) -> Answers:
    """The answers that count: visible fields only (hidden ones, removed items and
    unknown codes dropped), plus each group's bookkeeping keys."""
    state = _resolve(form, answers, context)
    out: Answers = {}
    for key, kind, _f, _g, _i in state.steps:
        if kind == "field":
            v = answers.get(key)
            if v is not None:
                out[key] = v
    for g in form.groups:
        for k in ((g.code, ITEM_COUNT), (g.code, ITEM_DONE)):
            v = answers.get(k)
            if v is not None:
                out[k] = v
    return out


def computed(
    form: FormDef, answers: Mapping[AnswerKey, Value], context: Mapping[str, Value | None]
) -> dict[str, Value | None]:
    """Every computed field, in form order; None where not applicable (e.g. x / 0)."""
    env = _resolve(form, answers, context, with_steps=False).env
    _compute(form, env)
    return {c.code: env.values[c.code] for c in form.computed}


_PLACEHOLDER_RE = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def _message(form: FormDef, rule: RuleDef, env: Env) -> dict[str, str]:
    def fill(text: str, lang: str) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if env.item is not None and name in env.item:
                value = env.item[name]
            else:
                value = env.values.get(name)
            target: FieldDef | ComputedDef | None = None
            if form.has_field(name):
                target = form.field(name)
            else:
                for c in form.computed:
                    if c.code == name:
                        target = c
            if target is not None:
                return format_value(target, value, lang)
            if name == "stage" and isinstance(value, str) and value in STAGES:
                return STAGES[value].get(lang)
            return "—" if value is None else str(value)

        return _PLACEHOLDER_RE.sub(one, text)

    return {"zh": fill(rule.message.zh, "zh"), "en": fill(rule.message.en, "en")}


def _failed(form: FormDef, rule: RuleDef, env: Env, item: int | None) -> RuleResult:
    """The result of a rule that failed (on one group item, or on the whole form)."""
    message = _message(form, rule, env)
    return RuleResult(
        rule.code, rule.severity, message, rule.fields, _keys(form, rule, env, item), item
    )


def _keys(form: FormDef, rule: RuleDef, env: Env, item: int | None) -> tuple[AnswerKey, ...]:
    out: list[AnswerKey] = []
    for code in rule.fields:
        if not form.has_field(code):
            continue
        f = form.field(code)
        if f.group is None:
            out.append((code, 0))
        elif item is not None and f.group == rule.group:
            out.append((code, item))
        else:
            out.extend((code, i) for i in range(len(env.groups.get(f.group, ()))))
    return tuple(out)


def validate(
    form: FormDef, answers: Mapping[AnswerKey, Value], context: Mapping[str, Value | None]
) -> list[RuleResult]:
    """The rules that fail on the visible answers (hidden answers count as missing).
    A rule that cannot be decided because an answer is missing passes, and a rule is
    not checked at all while a required question it reads is still to be answered (so
    `sum(a, b, c) == total` speaks once all four are given, not after the first)."""
    state = _resolve(form, answers, context)
    env = state.env
    _compute(form, env)
    # The required questions asked but not answered yet: rules reading them wait.
    pending = {
        key
        for key, kind, f, _g, _i in state.steps
        if kind == "field" and f is not None and f.required and answers.get(key) is None
    }
    pending_codes = {code for code, _item in pending}
    results: list[RuleResult] = []
    for rule in form.rules:
        if any(code in pending_codes for code in rule.uses):
            continue
        if rule.expr.evaluate(env) is False:
            results.append(_failed(form, rule, env, None))
    for g in form.groups:
        if not g.rules:
            continue
        own = {f.code for f in g.fields}
        for i, item in enumerate(env.groups.get(g.code, ())):
            env.item = item
            for rule in g.rules:
                if any(
                    (code, i) in pending if code in own else code in pending_codes
                    for code in rule.uses
                ):
                    continue
                if rule.expr.evaluate(env) is False:
                    results.append(_failed(form, rule, env, i))
        env.item = None
    return results


# --- group bookkeeping -----------------------------------------------------------------


def add_item(form: FormDef, answers: Mapping[AnswerKey, Value], group: str) -> Answers:
    """The answer rows to write when the principal says "yes, add one"."""
    g = form.group(group)
    n = item_count(g, answers)
    if n >= g.max_items:
        raise FormError(f"group {group} already has its maximum of {g.max_items} items")
    return {(group, ITEM_COUNT): n + 1, (group, ITEM_DONE): False}


def finish_group(form: FormDef, answers: Mapping[AnswerKey, Value], group: str) -> Answers:
    """The answer rows to write when the principal says "no more"."""
    g = form.group(group)
    return {(g.code, ITEM_COUNT): item_count(g, answers), (g.code, ITEM_DONE): True}


def remove_item(
    form: FormDef, answers: Mapping[AnswerKey, Value], group: str, index: int
) -> Answers:
    """All answers after deleting item `index` of `group` (later items move up one).
    The caller replaces the group's rows with the result's."""
    g = form.group(group)
    n = item_count(g, answers)
    if not 0 <= index < n:
        raise FormError(f"group {group} has no item {index}")
    own = {f.code for f in g.fields}
    out: Answers = {}
    for (code, item), v in answers.items():
        if code not in own:
            out[(code, item)] = v
        elif item < index:
            out[(code, item)] = v
        elif item > index:
            out[(code, item - 1)] = v
    out[(group, ITEM_COUNT)] = n - 1
    return out


# --- summaries -------------------------------------------------------------------------


def _needed_computed(form: FormDef, codes: set[str]) -> frozenset[str]:
    by_code = {c.code: c for c in form.computed}
    need: set[str] = set()
    todo = [c for c in codes if c in by_code]
    while todo:
        c = todo.pop()
        if c in need:
            continue
        need.add(c)
        todo.extend(n for n in by_code[c].expr.names if n in by_code)
    return frozenset(need)


def _add(a: int | Decimal, b: int | Decimal) -> int | Decimal:
    return a + b if type(a) is int and type(b) is int else DECIMAL_CONTEXT.add(a, b)


def _as_number(v: object) -> int | Decimal | None:
    if isinstance(v, int | Decimal) and not isinstance(v, bool):
        return v
    return None


def aggregate_key_totals(
    form: FormDef,
    submissions: Iterable[tuple[Mapping[AnswerKey, Value], Mapping[str, Value | None]]],
) -> dict[str, KeyTotalResult]:
    """Add up the form's key totals over (answers, context) of many schools.

    sum: the total of the values present. ratio: sum(numerator) / sum(denominator) *
    scale over the schools where both are present. Hidden answers do not count.
    """
    totals = form.key_totals
    refs: set[str] = set()
    for kt in totals:
        refs.update(r for r in (kt.of, kt.numerator, kt.denominator) if r)
    need = _needed_computed(form, refs)
    overall = [_Acc() for _ in totals]
    buckets: list[dict[str, _Acc]] = [{} for _ in totals]
    # Prepared once: this loop runs for every school of a province.
    plan = [
        (
            overall[i],
            buckets[i],
            _reader(kt.of if kt.aggregate == "sum" else kt.numerator),
            None if kt.aggregate == "sum" else _reader(kt.denominator),
            kt.by,
        )
        for i, kt in enumerate(totals)
    ]
    for answers, context in submissions:
        env = _resolve(form, answers, context, with_steps=False).env
        if need:
            _compute(form, env, need)
        values = env.values
        for acc, bucket_map, read_num, read_den, by in plan:
            num = read_num(env)
            if num is None:
                continue
            den: int | Decimal = 0
            if read_den is not None:
                d = read_den(env)
                if d is None:
                    continue
                den = d
            acc.add(num, den)
            if by is not None:
                key = values.get(by)
                if isinstance(key, str):
                    bucket = bucket_map.get(key)
                    if bucket is None:
                        bucket = bucket_map[key] = _Acc()
                    bucket.add(num, den)

    out: dict[str, KeyTotalResult] = {}
    for i, kt in enumerate(totals):
        a = overall[i]
        ratio = kt.aggregate == "ratio"
        out[kt.code] = KeyTotalResult(
            code=kt.code,
            label=kt.label,
            aggregate=kt.aggregate,
            value=key_total_value(kt, a.num, a.den) if a.schools else None,
            schools=a.schools,
            by={k: key_total_value(kt, b.num, b.den) for k, b in sorted(buckets[i].items())},
            unit=kt.unit,
            numerator=a.num if a.schools else None,
            denominator=a.den if a.schools and ratio else None,
        )
    return out


class _Acc:
    __slots__ = ("den", "num", "schools")

    def __init__(self) -> None:
        self.num: int | Decimal = 0
        self.den: int | Decimal = 0
        self.schools = 0

    def add(self, num: int | Decimal, den: int | Decimal) -> None:
        a = self.num
        self.num = a + num if type(a) is int and type(num) is int else DECIMAL_CONTEXT.add(a, num)
        if den:
            self.den = _add(self.den, den)
        self.schools += 1


def _reader(ref: str | None) -> Callable[[Env], int | Decimal | None]:
    """A function reading a key total's figure (field, computed or group.field)."""
    assert ref is not None
    if "." in ref:
        g, f = ref.split(".", 1)

        def group_sum(env: Env) -> int | Decimal | None:
            total: int | Decimal = 0
            seen = False
            for item in env.groups.get(g, ()):
                n = _as_number(item.get(f))
                if n is not None:
                    total = _add(total, n)
                    seen = True
            return total if seen else None

        return group_sum

    def value(env: Env) -> int | Decimal | None:
        v = env.values.get(ref)
        return v if type(v) is int or type(v) is Decimal else None

    return value


def key_total_value(
    kt: KeyTotalDef, num: int | Decimal, den: int | Decimal
) -> int | Decimal | None:
    """A key total from its summed numerator (and denominator, for a ratio), rounded as
    the form says; the SQL path (models.followup.keytotals) uses it too, so both agree."""
    if kt.aggregate == "sum":
        return round_half_up(num, kt.decimals) if isinstance(num, Decimal) else num
    if den == 0:
        return None
    ratio = DECIMAL_CONTEXT.multiply(DECIMAL_CONTEXT.divide(num, den), kt.scale)
    return round_half_up(ratio, kt.decimals)
