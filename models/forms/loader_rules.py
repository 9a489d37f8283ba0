"""Reading what a form says about its answers: rules, key totals and the chart hint."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from models.forms.definition import SEVERITIES, ChartHint, KeyTotalDef, RuleDef, Severity, Text
from models.forms.expr_values import ANY, BOOL, Expr, Scope
from models.forms.loader_tables import TableReader, is_whole

PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")

RULE_KEYS = ("code", "expr", "severity", "message", "fields")
KEY_TOTAL_KEYS = (
    "code",
    "label",
    "aggregate",
    "of",
    "numerator",
    "denominator",
    "scale",
    "decimals",
    "by",
    "unit",
)
CHART_KEYS = ("of", "kind")

InputsOf = Callable[[Expr], tuple[str, ...]]
"""The fields an expression depends on, through computed fields too, in form order."""


# --- rules ---------------------------------------------------------------------------


def read_rule(
    ld: TableReader,
    rt: Mapping[str, Any],
    index: int,
    scope: Scope,
    group: str | None,
    seen: set[str],
    inputs_of: InputsOf,
) -> RuleDef | None:
    prefix = f"group {group} " if group else ""
    code = ld.code(rt, f"{prefix}rules[{index + 1}]", "rule")
    where = f"rule {code}" if code else f"{prefix}rules[{index + 1}]"
    ld.unknown_keys(rt, RULE_KEYS, where)
    if code is not None:
        if code in seen:
            ld.problem(where, f"rule code '{code}' is used twice")
        seen.add(code)
    severity = rt.get("severity", "error")
    if severity not in SEVERITIES:
        ld.problem(where, f'severity must be "error" or "warning", not {severity!r}')
    message = ld.text(rt, "message", where, required=True)
    if "expr" not in rt:
        ld.problem(where, "expr is missing")
        return None
    e = _condition(ld, rt["expr"], scope, where)
    if message is not None:
        _check_placeholders(ld, message, scope, where)
    fields = _rule_fields(ld, rt, scope, where)
    if fields is None:
        fields = inputs_of(e) if e is not None else ()
    if e is None or message is None or code is None or severity not in SEVERITIES:
        return None
    return RuleDef(code, e, cast(Severity, severity), message, fields, group, inputs_of(e))


def _condition(ld: TableReader, source: object, scope: Scope, where: str) -> Expr | None:
    e = ld.expression(source, scope, where, "expr")
    if e is not None and e.type not in (BOOL, ANY):
        ld.problem(where, f"expr {source!r} must be a condition (true/false), e.g. a <= b")
        return None
    return e


def _check_placeholders(ld: TableReader, message: Text, scope: Scope, where: str) -> None:
    for text in (message.zh, message.en):
        for name in PLACEHOLDER_RE.findall(text):
            if name not in scope.names:
                ld.problem(where, f"message mentions {{{name}}}, which is not a field name")


def _rule_fields(
    ld: TableReader, rt: Mapping[str, Any], scope: Scope, where: str
) -> tuple[str, ...] | None:
    """The fields a rule names explicitly (to show its message beside), or None when it
    names none and they follow from its expression."""
    if "fields" not in rt:
        return None
    raw = rt["fields"]
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        ld.problem(where, "fields must be a list of field codes")
        return ()
    known = input_names(scope)
    for name in raw:
        if name not in known:
            ld.problem(where, f"fields lists '{name}', which is not a field")
    return tuple(raw)


def input_names(scope: Scope) -> set[str]:
    names = {n for n, s in scope.names.items() if s.kind in ("field", "item")}
    for fs in scope.groups.values():
        names.update(fs)
    return names


# --- key totals ----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyTotalRefs:
    """What a key total may refer to, and the labels and units it may borrow."""

    numeric: set[str]
    group_numeric: set[str]
    labels: Mapping[str, Text]
    units: Mapping[str, Text | None]
    context: set[str]


@dataclass(frozen=True)
class _KeyTotalHead:
    """The keys every key total shares."""

    code: str
    where: str
    label: Text | None
    unit: Text | None
    decimals: int | None
    by: str | None


def read_key_totals(ld: TableReader, raw: object, refs: KeyTotalRefs) -> list[KeyTotalDef]:
    out: list[KeyTotalDef] = []
    seen: set[str] = set()
    for i, t in enumerate(ld.tables(raw, None, "key_totals")):
        kt = _key_total(ld, t, i, seen, refs)
        if kt is not None:
            out.append(kt)
    return out


def _key_total(
    ld: TableReader, t: Mapping[str, Any], index: int, seen: set[str], refs: KeyTotalRefs
) -> KeyTotalDef | None:
    code = ld.code(t, f"key_totals[{index + 1}]", "key total")
    where = f"key total {code}" if code else f"key_totals[{index + 1}]"
    ld.unknown_keys(t, KEY_TOTAL_KEYS, where)
    if code is None:
        return None
    if code in seen:
        ld.problem(where, f"key total '{code}' appears twice")
    seen.add(code)
    aggregate = t.get("aggregate", "sum")
    label = ld.text(t, "label", where, required=False)
    unit = ld.text(t, "unit", where, required=False)
    decimals = ld.int_value(t, "decimals", where, 0, 6)
    by = t.get("by")
    if by is not None and (not isinstance(by, str) or by not in refs.context):
        context = ", ".join(sorted(refs.context))
        ld.problem(where, f"by = {by!r} is not a context name ({context})")
        by = None
    head = _KeyTotalHead(code, where, label, unit, decimals, by)
    if aggregate == "sum":
        return _sum_total(ld, t, head, refs)
    if aggregate == "ratio":
        return _ratio_total(ld, t, head, refs)
    ld.problem(where, f'aggregate must be "sum" or "ratio", not {aggregate!r}')
    return None


def _numeric_ref(
    ld: TableReader, ref: object, key: str, where: str, allowed: set[str]
) -> str | None:
    if not isinstance(ref, str):
        ld.problem(where, f"{key} is missing (a numeric field or computed code)")
        return None
    if ref in allowed:
        return ref
    ld.problem(where, f"{key} = {ref!r} is not a numeric field or computed field")
    return None


def _sum_total(
    ld: TableReader, t: Mapping[str, Any], head: _KeyTotalHead, refs: KeyTotalRefs
) -> KeyTotalDef | None:
    # A sum may also add up a group's column over every item.
    allowed = refs.numeric | refs.group_numeric
    ref = _numeric_ref(ld, t.get("of", head.code), "of", head.where, allowed)
    if ref is None:
        return None
    return KeyTotalDef(
        code=head.code,
        label=head.label or refs.labels.get(ref, Text(head.code, head.code)),
        aggregate="sum",
        of=ref,
        decimals=head.decimals if head.decimals is not None else 0,
        by=head.by,
        unit=head.unit or refs.units.get(ref),
    )


def _ratio_total(
    ld: TableReader, t: Mapping[str, Any], head: _KeyTotalHead, refs: KeyTotalRefs
) -> KeyTotalDef | None:
    code, where = head.code, head.where
    num = _numeric_ref(ld, t.get("numerator"), "numerator", where, refs.numeric)
    den = _numeric_ref(ld, t.get("denominator"), "denominator", where, refs.numeric)
    scale = Decimal(1)
    raw_scale = t.get("scale", 1)
    if is_whole(raw_scale) or isinstance(raw_scale, float):
        scale = Decimal(repr(raw_scale))
    else:
        ld.problem(where, "scale must be a number, e.g. 100 for a percentage")
    if head.label is None and code not in refs.labels:
        ld.problem(where, "a ratio needs label.zh and label.en")
    if num is None or den is None:
        return None
    return KeyTotalDef(
        code=code,
        label=head.label or refs.labels.get(code, Text(code, code)),
        aggregate="ratio",
        numerator=num,
        denominator=den,
        scale=scale,
        decimals=head.decimals if head.decimals is not None else 1,
        by=head.by,
        unit=head.unit or refs.units.get(code),
    )


# --- chart ---------------------------------------------------------------------------


def read_chart(ld: TableReader, raw: object, known: set[str]) -> ChartHint | None:
    if raw is None:
        return None
    t = ld.table(raw, "chart", "chart")
    if t is None:
        return None
    ld.unknown_keys(t, CHART_KEYS, "chart")
    of = t.get("of")
    kind = t.get("kind", "bar")
    if kind not in ("bar", "pie"):
        ld.problem("chart", f'kind must be "bar" or "pie", not {kind!r}')
        return None
    if not isinstance(of, str) or of not in known:
        ld.problem("chart", f"of = {of!r} is not a key total or computed field")
        return None
    return ChartHint(of, kind)
