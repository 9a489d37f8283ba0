"""Reading form TOML files into FormDef, and telling bureau staff what is wrong.

The loader never stops at the first problem: `check_forms` lists every problem it
can find in every file, so that one run of `huibao forms check` shows all of them.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from models.forms import expr as ex
from models.forms.definition import (
    DEFAULT_DECIMALS,
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_LENGTH,
    FIELD_TYPES,
    PERIOD_TYPES,
    SEVERITIES,
    STAGES,
    Bound,
    ChartHint,
    Choice,
    ComputedDef,
    FieldDef,
    FieldType,
    FormDef,
    FormError,
    GroupDef,
    KeyTotalDef,
    PeriodType,
    Problem,
    RuleDef,
    Severity,
    Text,
)

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_CODE_LENGTH = 50
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")

FORM_KEYS = (
    "code",
    "version",
    "title",
    "description",
    "period_type",
    "context",
    "fields",
    "groups",
    "rules",
    "computed",
    "key_totals",
    "chart",
)
FIELD_KEYS = (
    "code",
    "type",
    "label",
    "unit",
    "min",
    "max",
    "required",
    "hint",
    "choices",
    "show_if",
    "max_length",
    "decimals",
)
CHOICE_KEYS = ("code", "label")
GROUP_KEYS = (
    "code",
    "label",
    "hint",
    "after",
    "show_if",
    "min_items",
    "max_items",
    "add_prompt",
    "fields",
    "rules",
)
RULE_KEYS = ("code", "expr", "severity", "message", "fields")
COMPUTED_KEYS = ("code", "label", "expr", "unit", "decimals")
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
TEXT_KEYS = ("zh", "en")

_FIELD_TYPE_SYMBOL = {
    "integer": ex.NUMBER,
    "decimal": ex.NUMBER,
    "choice": ex.TEXT,
    "multi_choice": ex.list_of(ex.TEXT),
    "date": ex.DATE,
    "text": ex.TEXT,
}


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Loader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    # -- small helpers --------------------------------------------------------------

    def problem(self, where: str | None, reason: str) -> None:
        self.problems.append(Problem(self.file, where, reason))

    def table(self, value: object, where: str | None, what: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(where, f"{what} must be a table, not {_kind(value)}")
            return None
        return value

    def tables(self, value: object, where: str | None, what: str) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(where, f"{what} must be an array of tables ([[{what}]])")
            return []
        out = []
        for i, item in enumerate(value):
            t = self.table(item, where, f"{what}[{i + 1}]")
            if t is not None:
                out.append(t)
        return out

    def unknown_keys(
        self, table: Mapping[str, object], allowed: tuple[str, ...], where: str | None
    ) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                if close:
                    self.problem(where, f"unknown key '{key}' (did you mean '{close[0]}'?)")
                else:
                    allowed_list = ", ".join(allowed)
                    self.problem(where, f"unknown key '{key}'; allowed keys: {allowed_list}")

    def text(
        self, table: Mapping[str, object], key: str, where: str | None, *, required: bool
    ) -> Text | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(where, f"{key}.zh and {key}.en are missing")
            return None
        if isinstance(value, str):
            self.problem(
                where,
                f'{key} needs both languages: write {key}.zh = "..." and {key}.en = "..."',
            )
            return None
        t = self.table(value, where, key)
        if t is None:
            return None
        self.unknown_keys(t, TEXT_KEYS, where)
        parts: dict[str, str] = {}
        for lang in TEXT_KEYS:
            s = t.get(lang)
            if s is None or (isinstance(s, str) and not s.strip()):
                self.problem(where, f"{key}.{lang} is missing")
            elif not isinstance(s, str):
                self.problem(where, f"{key}.{lang} must be a string")
            else:
                parts[lang] = s.strip()
        if len(parts) != 2:
            return None
        return Text(parts["zh"], parts["en"])

    def code(self, table: Mapping[str, object], where: str, what: str) -> str | None:
        value = table.get("code")
        if value is None:
            self.problem(where, f"{what} has no code")
            return None
        if not isinstance(value, str) or not CODE_RE.match(value):
            self.problem(
                where,
                f"code {value!r} is not valid: use lower-case letters, digits and _, "
                "starting with a letter (e.g. full_time_teachers)",
            )
            return None
        if len(value) > MAX_CODE_LENGTH:
            self.problem(where, f"code '{value}' is longer than {MAX_CODE_LENGTH} characters")
            return None
        if value in ex.RESERVED:
            self.problem(where, f"code '{value}' is a reserved word of the expression language")
            return None
        return value

    def int_value(
        self, table: Mapping[str, object], key: str, where: str, lo: int, hi: int | None = None
    ) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        if not _is_int(value):
            self.problem(where, f"{key} must be a whole number, not {_kind(value)}")
            return None
        n = cast(int, value)
        if n < lo or (hi is not None and n > hi):
            rng = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
            self.problem(where, f"{key} must be {rng}, not {n}")
            return None
        return n

    def expression(self, source: object, scope: ex.Scope, where: str, what: str) -> ex.Expr | None:
        if not isinstance(source, str):
            self.problem(where, f"{what} must be a string expression, not {_kind(source)}")
            return None
        try:
            return ex.compile_expression(source, scope)
        except FormError as err:
            self.problem(where, f"{what} {source!r}: {err}")
            return None

    # -- pieces -----------------------------------------------------------------------

    def bound(self, value: object, ftype: FieldType, key: str, where: str) -> Bound | None:
        if value is None:
            return None
        if ftype in ("integer", "multi_choice"):
            if _is_int(value):
                return cast(int, value)
            self.problem(where, f"{key} of a {ftype} field must be a whole number")
            return None
        if ftype == "decimal":
            if _is_int(value):
                return cast(int, value)
            if isinstance(value, float):
                try:
                    d = Decimal(repr(value))
                except InvalidOperation:
                    d = None
                if d is not None and d.is_finite():
                    return d
            self.problem(where, f"{key} of a decimal field must be a number")
            return None
        if ftype == "date":
            if isinstance(value, date) and not isinstance(value, datetime):
                return value
            self.problem(where, f"{key} of a date field must be a date such as 2026-09-01")
            return None
        self.problem(
            where,
            f"{ftype} fields take no {key}" + (" (use max_length)" if ftype == "text" else ""),
        )
        return None

    def choices(self, raw: object, where: str) -> tuple[Choice, ...]:
        out: list[Choice] = []
        seen_codes: set[str] = set()
        seen_words: dict[str, str] = {}
        for i, t in enumerate(self.tables(raw, where, "choices")):
            cwhere = where
            self.unknown_keys(t, CHOICE_KEYS, cwhere)
            code = self.code(t, cwhere, f"choice {i + 1}")
            label = self.text(t, "label", cwhere, required=True)
            if code is None or label is None:
                continue
            if code in seen_codes:
                self.problem(where, f"choice code '{code}' appears twice")
                continue
            seen_codes.add(code)
            # A principal may answer with a number, a code or a label, so these must
            # not collide across choices or the answer would be ambiguous.
            for word in {code.lower(), label.zh.lower(), label.en.lower()}:
                other = seen_words.get(word)
                if other is not None and other != code:
                    self.problem(where, f"choices '{other}' and '{code}' share the answer '{word}'")
                seen_words[word] = code
            if label.zh.isdigit() or label.en.isdigit():
                self.problem(
                    where,
                    f"choice '{code}' has a number as its label; it would be mistaken "
                    "for the choice's position",
                )
            out.append(Choice(code, label))
        return tuple(out)

    def field(self, t: Mapping[str, Any], index: int, group: str | None) -> FieldDef | None:
        fallback = f"{group + '.' if group else ''}fields[{index + 1}]"
        code = self.code(t, fallback, "field")
        where = code or fallback
        self.unknown_keys(t, FIELD_KEYS, where)
        label = self.text(t, "label", where, required=True)
        ftype = t.get("type")
        if ftype is None:
            self.problem(where, f"type is missing (one of: {', '.join(FIELD_TYPES)})")
            return None
        if ftype not in FIELD_TYPES:
            close = difflib.get_close_matches(str(ftype), FIELD_TYPES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.problem(
                where, f"unknown type {ftype!r}{hint}; use one of: {', '.join(FIELD_TYPES)}"
            )
            return None
        ft = cast(FieldType, ftype)
        lo = self.bound(t.get("min"), ft, "min", where)
        hi = self.bound(t.get("max"), ft, "max", where)
        if lo is not None and hi is not None and lo > hi:  # type: ignore[operator]
            self.problem(where, f"min ({lo}) is greater than max ({hi})")
        if ft == "multi_choice" and lo is not None and cast(int, lo) < 0:
            self.problem(where, "min of a multi_choice field must not be negative")
        required = t.get("required", True)
        if not isinstance(required, bool):
            self.problem(where, "required must be true or false")
            required = True
        unit = self.text(t, "unit", where, required=False)
        if unit is not None and ft not in ("integer", "decimal"):
            self.problem(where, "only integer and decimal fields have a unit")
        choices: tuple[Choice, ...] = ()
        if ft in ("choice", "multi_choice"):
            if "choices" not in t:
                self.problem(where, f"a {ft} field needs choices")
            else:
                choices = self.choices(t["choices"], where)
                if not choices and "choices" in t and isinstance(t["choices"], list):
                    self.problem(where, f"a {ft} field needs at least one choice")
            if ft == "multi_choice" and hi is not None and choices and hi > len(choices):  # type: ignore[operator]
                self.problem(where, f"max ({hi}) is more than the {len(choices)} choices")
        elif "choices" in t:
            self.problem(where, f"only choice and multi_choice fields have choices, not {ft}")
        max_length = self.int_value(t, "max_length", where, 1, 4000)
        if "max_length" in t and ft != "text":
            self.problem(where, "only text fields have max_length")
        # 4 places: the answers table keeps decimals as NUMERIC(20, 4).
        decimals = self.int_value(t, "decimals", where, 0, 4)
        if "decimals" in t and ft != "decimal":
            self.problem(where, "only decimal fields have decimals")
        if ft == "text" and max_length is None:
            max_length = DEFAULT_MAX_LENGTH
        if ft == "decimal" and decimals is None:
            decimals = DEFAULT_DECIMALS
        if ft == "decimal" and decimals is not None:
            for key, b in (("min", lo), ("max", hi)):
                if isinstance(b, Decimal) and -cast(int, b.as_tuple().exponent) > decimals:
                    self.problem(where, f"{key} ({b}) has more than {decimals} decimal places")
        if code is None or label is None:
            return None
        return FieldDef(
            code=code,
            type=ft,
            label=label,
            unit=unit if ft in ("integer", "decimal") else None,
            min=lo,
            max=hi,
            required=required,
            hint=self.text(t, "hint", where, required=False),
            choices=choices,
            max_length=max_length if ft == "text" else None,
            decimals=decimals if ft == "decimal" else None,
            group=group,
        )


def _kind(v: object) -> str:
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


def _symbol(f: FieldDef, kind: ex.SymbolKind = "field") -> ex.Symbol:
    choices = frozenset(c.code for c in f.choices) if f.choices else None
    return ex.Symbol(_FIELD_TYPE_SYMBOL[f.type], kind, choices)


def _build(data: Mapping[str, Any], file: str) -> tuple[FormDef | None, list[Problem]]:
    ld = _Loader(file)
    ld.unknown_keys(data, FORM_KEYS, None)

    code = data.get("code")
    if code is None:
        ld.problem(None, "the form has no code")
    elif not isinstance(code, str) or not CODE_RE.match(code):
        ld.problem(None, f"form code {code!r} is not valid (lower-case letters, digits, _)")
        code = None
    version = data.get("version")
    if version is None:
        ld.problem(None, "the form has no version (a whole number, starting at 1)")
    elif not _is_int(version) or version < 1:
        ld.problem(None, f"version must be a whole number of at least 1, not {version!r}")
        version = None
    title = ld.text(data, "title", None, required=True)
    description = ld.text(data, "description", None, required=False)
    period = data.get("period_type")
    if period not in PERIOD_TYPES:
        ld.problem(
            None,
            f"period_type must be one of {', '.join(PERIOD_TYPES)}, not {period!r}"
            if period is not None
            else f"period_type is missing (one of: {', '.join(PERIOD_TYPES)})",
        )
        period = None

    # Context: values the caller supplies (never asked). `stage` is always there.
    context_symbols: dict[str, ex.Symbol] = {
        "stage": ex.Symbol(ex.TEXT, "context", frozenset(STAGES))
    }
    raw_context = data.get("context", [])
    if not isinstance(raw_context, list) or not all(isinstance(c, str) for c in raw_context):
        ld.problem(None, 'context must be a list of names, e.g. context = ["district"]')
        raw_context = []
    for name in raw_context:
        if not CODE_RE.match(name) or name in ex.RESERVED:
            ld.problem(None, f"context name {name!r} is not valid")
        else:
            context_symbols.setdefault(name, ex.Symbol(ex.TEXT, "context"))

    # Fields and groups, before their expressions can be checked.
    top_fields: list[FieldDef] = []
    for i, t in enumerate(ld.tables(data.get("fields"), None, "fields")):
        f = ld.field(t, i, None)
        if f is not None:
            top_fields.append(f)
    raw_groups: list[tuple[GroupDef, dict[str, Any]]] = []
    for gi, gt in enumerate(ld.tables(data.get("groups"), None, "groups")):
        g = _group(ld, gt, gi)
        if g is not None:
            raw_groups.append((g, gt))
    if not top_fields and not raw_groups:
        ld.problem(None, "the form has no fields")

    # One namespace for everything an expression can name.
    owners: dict[str, str] = dict.fromkeys(context_symbols, "context")

    def claim(name: str, what: str, where: str) -> bool:
        if name in owners:
            ld.problem(where, f"code '{name}' is used twice (already a {owners[name]})")
            return False
        owners[name] = what
        return True

    top_fields = [f for f in top_fields if claim(f.code, "field", f.code)]
    groups: list[GroupDef] = []
    for g, _raw in raw_groups:
        if not claim(g.code, "group", f"group {g.code}"):
            continue
        kept = tuple(f for f in g.fields if claim(f.code, f"field of group {g.code}", f.code))
        groups.append(dataclasses.replace(g, fields=kept))
    raw_computed = ld.tables(data.get("computed"), None, "computed")
    computed_codes: list[tuple[str, Mapping[str, Any]]] = []
    for i, ct in enumerate(raw_computed):
        ld.unknown_keys(ct, COMPUTED_KEYS, f"computed {ct.get('code', i + 1)}")
        c = ld.code(ct, f"computed[{i + 1}]", "computed field")
        if c is not None and claim(c, "computed field", f"computed {c}"):
            computed_codes.append((c, ct))

    # Order: top-level fields as written, each group right after its `after` field
    # (or at the end), groups sharing a place in the order written.
    top_codes = {f.code for f in top_fields}
    items: list[FieldDef | GroupDef] = []
    trailing: list[GroupDef] = []
    by_after: dict[str, list[GroupDef]] = {}
    for g in groups:
        if g.after is None:
            trailing.append(g)
        elif g.after not in top_codes:
            ld.problem(f"group {g.code}", f"after = '{g.after}' is not a top-level field")
            trailing.append(g)
        else:
            by_after.setdefault(g.after, []).append(g)
    for f in top_fields:
        items.append(f)
        items.extend(by_after.get(f.code, []))
    items.extend(trailing)

    # show_if: each may use only what is asked before it, and the context.
    all_field_names = {f.code for f in top_fields}
    group_symbols = {g.code: {f.code: _symbol(f) for f in g.fields} for g in groups}
    later_reason = "is asked later in the form; show_if may only use fields asked before it"
    computed_reason = "is a computed field; show_if may only use answers asked before it"
    before: dict[str, ex.Symbol] = dict(context_symbols)
    before_groups: dict[str, Mapping[str, ex.Symbol]] = {}
    resolved: list[FieldDef | GroupDef] = []
    for entry in items:
        unavailable = {n: later_reason for n in all_field_names if n not in before}
        unavailable.update({g: later_reason for g in group_symbols if g not in before_groups})
        unavailable.update({c: computed_reason for c, _ in computed_codes})
        if isinstance(entry, FieldDef):
            raw = _raw_show_if(data, entry)
            if raw is not None:
                scope = ex.Scope(before, before_groups, unavailable)
                e = ld.expression(raw, scope, entry.code, "show_if")
                if e is not None and e.type not in (ex.BOOL, ex.ANY):
                    ld.problem(entry.code, f"show_if {raw!r} must be a condition (true/false)")
                entry = dataclasses.replace(entry, show_if=e)
            before[entry.code] = _symbol(entry)
            resolved.append(entry)
            continue
        gt = next(t for g, t in raw_groups if g.code == entry.code)
        gshow = None
        if gt.get("show_if") is not None:
            scope = ex.Scope(before, before_groups, unavailable)
            gshow = ld.expression(gt["show_if"], scope, f"group {entry.code}", "show_if")
        item_names = dict(before)
        own = {f.code for f in entry.fields}
        fields: list[FieldDef] = []
        raw_fields = {
            ft["code"]: ft
            for ft in ld_tables_quiet(gt.get("fields"))
            if isinstance(ft.get("code"), str)
        }
        for f in entry.fields:
            raw = raw_fields.get(f.code, {}).get("show_if")
            if raw is not None:
                un = dict(unavailable)
                un.update({n: later_reason for n in own if n not in item_names})
                un[entry.code] = "is the group being asked; use its fields directly"
                scope = ex.Scope(item_names, before_groups, un)
                e = ld.expression(raw, scope, f.code, "show_if")
                f = dataclasses.replace(f, show_if=e)
            item_names[f.code] = _symbol(f, "item")
            fields.append(f)
        resolved.append(dataclasses.replace(entry, fields=tuple(fields), show_if=gshow))
        before_groups[entry.code] = group_symbols[entry.code]

    # Computed fields: any field, any context, computed fields defined above.
    all_names: dict[str, ex.Symbol] = dict(context_symbols)
    all_names.update({f.code: _symbol(f) for f in top_fields})
    computed: list[ComputedDef] = []
    later_computed = "is computed further down; use only computed fields defined above"
    for i, (c, raw_c) in enumerate(computed_codes):
        where = f"computed {c}"
        unavailable = {n: later_computed for n, _ in computed_codes[i:]}
        scope = ex.Scope(all_names, group_symbols, unavailable)
        label = ld.text(raw_c, "label", where, required=True)
        if "expr" not in raw_c:
            ld.problem(where, "expr is missing")
            continue
        e = ld.expression(raw_c["expr"], scope, where, "expr")
        decimals = ld.int_value(raw_c, "decimals", where, 0, 6)
        unit = ld.text(raw_c, "unit", where, required=False)
        if e is not None and (ex.is_list(e.type) or e.type == ex.GROUP):
            ld.problem(where, f"expr {raw_c['expr']!r} gives a list; wrap it in sum() or count()")
            e = None
        if e is not None:
            all_names[c] = ex.Symbol(e.type, "computed")
        if e is None or label is None:
            continue
        computed.append(ComputedDef(c, label, e, unit, decimals))

    computed_by_code = {c.code: c for c in computed}
    field_order = [f.code for entry in resolved for f in _fields_of(entry)]
    field_order_set = set(field_order)

    def inputs_of(e: ex.Expr) -> tuple[str, ...]:
        found: set[str] = set()
        todo = [e]
        while todo:
            cur = todo.pop()
            found.update(n for n in cur.names if n in field_order_set)
            found.update(f for _, f in cur.group_fields)
            todo.extend(computed_by_code[n].expr for n in cur.names if n in computed_by_code)
        return tuple(c for c in field_order if c in found)

    # Rules.
    rule_codes: set[str] = set()
    rules = []
    for i, rt in enumerate(ld.tables(data.get("rules"), None, "rules")):
        r = _rule(ld, rt, i, ex.Scope(all_names, group_symbols), None, rule_codes, inputs_of)
        if r is not None:
            rules.append(r)
    final_items: list[FieldDef | GroupDef] = []
    for entry in resolved:
        if isinstance(entry, GroupDef):
            gt = next(t for g, t in raw_groups if g.code == entry.code)
            names = dict(all_names)
            names.update({f.code: _symbol(f, "item") for f in entry.fields})
            scope = ex.Scope(names, group_symbols)
            grules = []
            for i, rt in enumerate(ld.tables(gt.get("rules"), f"group {entry.code}", "rules")):
                r = _rule(ld, rt, i, scope, entry.code, rule_codes, inputs_of)
                if r is not None:
                    grules.append(r)
            entry = dataclasses.replace(entry, rules=tuple(grules))
        final_items.append(entry)

    numeric = {n for n, s in all_names.items() if s.type == ex.NUMBER and s.kind != "context"}
    group_numeric = {
        f"{g}.{f}" for g, fs in group_symbols.items() for f, s in fs.items() if s.type == ex.NUMBER
    }
    labels: dict[str, Text] = {f.code: f.label for f in top_fields}
    labels.update({c.code: c.label for c in computed})
    units: dict[str, Text | None] = {f.code: f.unit for f in top_fields}
    units.update({c.code: c.unit for c in computed})
    key_totals = _key_totals(
        ld, data.get("key_totals"), numeric, group_numeric, labels, units, set(context_symbols)
    )
    chart = _chart(ld, data.get("chart"), {k.code for k in key_totals} | {c.code for c in computed})

    if ld.problems or code is None or version is None or title is None or period is None:
        return None, ld.problems
    form = FormDef(
        code=code,
        version=version,
        title=title,
        description=description,
        period_type=cast(PeriodType, period),
        items=tuple(final_items),
        rules=tuple(rules),
        computed=tuple(computed),
        key_totals=tuple(key_totals),
        chart=chart,
        context=tuple(context_symbols),
        source=file,
    )
    return form, []


def ld_tables_quiet(value: object) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for v in value:
            if isinstance(v, dict):
                yield v


def _raw_show_if(data: Mapping[str, Any], f: FieldDef) -> object:
    for t in ld_tables_quiet(data.get("fields")):
        if t.get("code") == f.code:
            return t.get("show_if")
    return None


def _fields_of(entry: FieldDef | GroupDef) -> tuple[FieldDef, ...]:
    return entry.fields if isinstance(entry, GroupDef) else (entry,)


def _group(ld: _Loader, gt: Mapping[str, Any], index: int) -> GroupDef | None:
    code = ld.code(gt, f"groups[{index + 1}]", "group")
    where = f"group {code}" if code else f"groups[{index + 1}]"
    ld.unknown_keys(gt, GROUP_KEYS, where)
    label = ld.text(gt, "label", where, required=True)
    hint = ld.text(gt, "hint", where, required=False)
    add_prompt = ld.text(gt, "add_prompt", where, required=False)
    min_items = ld.int_value(gt, "min_items", where, 0, 1000)
    max_items = ld.int_value(gt, "max_items", where, 1, 1000)
    lo = 0 if min_items is None else min_items
    hi = DEFAULT_MAX_ITEMS if max_items is None else max_items
    if lo > hi:
        ld.problem(where, f"min_items ({lo}) is greater than max_items ({hi})")
    after = gt.get("after")
    if after is not None and not isinstance(after, str):
        ld.problem(where, "after must be the code of a field")
        after = None
    fields = []
    for i, ft in enumerate(ld.tables(gt.get("fields"), where, "fields")):
        f = ld.field(ft, i, code)
        if f is not None:
            fields.append(f)
    if not gt.get("fields"):
        ld.problem(where, "a group needs at least one field ([[groups.fields]])")
    if code is None or label is None:
        return None
    return GroupDef(
        code=code,
        label=label,
        fields=tuple(fields),
        min_items=lo,
        max_items=hi,
        hint=hint,
        after=after,
        add_prompt=add_prompt,
    )


def _rule(
    ld: _Loader,
    rt: Mapping[str, Any],
    index: int,
    scope: ex.Scope,
    group: str | None,
    seen: set[str],
    inputs_of: Callable[[ex.Expr], tuple[str, ...]],
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
    e = ld.expression(rt["expr"], scope, where, "expr")
    if e is not None and e.type not in (ex.BOOL, ex.ANY):
        ld.problem(where, f"expr {rt['expr']!r} must be a condition (true/false), e.g. a <= b")
        e = None
    if message is not None:
        for text in (message.zh, message.en):
            for name in PLACEHOLDER_RE.findall(text):
                if name not in scope.names:
                    ld.problem(where, f"message mentions {{{name}}}, which is not a field name")
    fields: tuple[str, ...] = ()
    if "fields" in rt:
        raw = rt["fields"]
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            ld.problem(where, "fields must be a list of field codes")
        else:
            known = _input_names(scope)
            for name in raw:
                if name not in known:
                    ld.problem(where, f"fields lists '{name}', which is not a field")
            fields = tuple(raw)
    elif e is not None:
        fields = inputs_of(e)
    if e is None or message is None or code is None or severity not in SEVERITIES:
        return None
    return RuleDef(code, e, cast(Severity, severity), message, fields, group, inputs_of(e))


def _input_names(scope: ex.Scope) -> set[str]:
    names = {n for n, s in scope.names.items() if s.kind in ("field", "item")}
    for fs in scope.groups.values():
        names.update(fs)
    return names


def _key_totals(
    ld: _Loader,
    raw: object,
    numeric: set[str],
    group_numeric: set[str],
    labels: Mapping[str, Text],
    units: Mapping[str, Text | None],
    context: set[str],
) -> list[KeyTotalDef]:
    out: list[KeyTotalDef] = []
    seen: set[str] = set()
    for i, t in enumerate(ld.tables(raw, None, "key_totals")):
        code = ld.code(t, f"key_totals[{i + 1}]", "key total")
        where = f"key total {code}" if code else f"key_totals[{i + 1}]"
        ld.unknown_keys(t, KEY_TOTAL_KEYS, where)
        if code is None:
            continue
        if code in seen:
            ld.problem(where, f"key total '{code}' appears twice")
        seen.add(code)
        aggregate = t.get("aggregate", "sum")
        label = ld.text(t, "label", where, required=False)
        unit = ld.text(t, "unit", where, required=False)
        decimals = ld.int_value(t, "decimals", where, 0, 6)
        by = t.get("by")
        if by is not None and (not isinstance(by, str) or by not in context):
            ld.problem(where, f"by = {by!r} is not a context name ({', '.join(sorted(context))})")
            by = None

        def numeric_ref(ref: object, key: str, allow_group: bool, where: str = where) -> str | None:
            if not isinstance(ref, str):
                ld.problem(where, f"{key} is missing (a numeric field or computed code)")
                return None
            if ref in numeric or (allow_group and ref in group_numeric):
                return ref
            ld.problem(where, f"{key} = {ref!r} is not a numeric field or computed field")
            return None

        scale = Decimal(1)
        if aggregate == "sum":
            ref = numeric_ref(t.get("of", code), "of", True)
            ok = ref is not None
            kt = KeyTotalDef(
                code=code,
                label=label or labels.get(str(ref), Text(code, code)),
                aggregate="sum",
                of=ref,
                decimals=decimals if decimals is not None else 0,
                by=by,
                unit=unit or units.get(str(ref)),
            )
        elif aggregate == "ratio":
            num = numeric_ref(t.get("numerator"), "numerator", False)
            den = numeric_ref(t.get("denominator"), "denominator", False)
            raw_scale = t.get("scale", 1)
            if _is_int(raw_scale) or isinstance(raw_scale, float):
                scale = Decimal(repr(raw_scale))
            else:
                ld.problem(where, "scale must be a number, e.g. 100 for a percentage")
            if label is None and code not in labels:
                ld.problem(where, "a ratio needs label.zh and label.en")
            ok = num is not None and den is not None
            kt = KeyTotalDef(
                code=code,
                label=label or labels.get(code, Text(code, code)),
                aggregate="ratio",
                numerator=num,
                denominator=den,
                scale=scale,
                decimals=decimals if decimals is not None else 1,
                by=by,
                unit=unit or units.get(code),
            )
        else:
            ld.problem(where, f'aggregate must be "sum" or "ratio", not {aggregate!r}')
            continue
        if ok:
            out.append(kt)
    return out


def _chart(ld: _Loader, raw: object, known: set[str]) -> ChartHint | None:
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


# --- public API ------------------------------------------------------------------------


def _read(path: Path) -> tuple[FormDef | None, list[Problem]]:
    file = str(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        return None, [Problem(file, None, f"not valid TOML: {err}")]
    except OSError as err:
        return None, [Problem(file, None, f"cannot read the file: {err.strerror or err}")]
    except UnicodeDecodeError:
        return None, [Problem(file, None, "the file is not UTF-8 text")]
    return _build(data, file)


def load_form(path: str | Path) -> FormDef:
    """Load one form file; FormError (with .problems) if anything is wrong with it."""
    form, problems = _read(Path(path))
    if form is None:
        raise FormError(
            f"{path}: {len(problems)} problem(s): " + "; ".join(str(p) for p in problems),
            problems,
        )
    return form


class FormRegistry:
    """Every loaded form, by code and version."""

    def __init__(self, forms: Iterable[FormDef] = ()) -> None:
        self._forms: dict[tuple[str, int], FormDef] = {}
        for f in forms:
            self.add(f)

    def add(self, form: FormDef) -> None:
        key = (form.code, form.version)
        if key in self._forms:
            raise FormError(
                f"form {form.code} version {form.version} is defined twice "
                f"({self._forms[key].source} and {form.source})"
            )
        self._forms[key] = form

    def get(self, code: str, version: int | None = None) -> FormDef:
        """That version of the form, or its latest version; KeyError if unknown."""
        if version is not None:
            return self._forms[(code, version)]
        versions = self.versions(code)
        if not versions:
            raise KeyError(code)
        return self._forms[(code, versions[-1])]

    def versions(self, code: str) -> list[int]:
        return sorted(v for c, v in self._forms if c == code)

    def latest(self) -> list[FormDef]:
        """The newest version of each form, ordered by code."""
        return [self.get(code) for code in sorted({c for c, _ in self._forms})]

    def __iter__(self) -> Iterator[FormDef]:
        return iter(sorted(self._forms.values(), key=lambda f: (f.code, f.version)))

    def __len__(self) -> int:
        return len(self._forms)

    def __contains__(self, code: object) -> bool:
        return any(c == code for c, _ in self._forms)


def _scan(directory: str | Path) -> tuple[list[FormDef], list[Problem]]:
    root = Path(directory)
    if not root.is_dir():
        return [], [Problem(str(root), None, "no such directory")]
    forms: list[FormDef] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, int], str] = {}
    for path in sorted(root.glob("*.toml")):
        form, found = _read(path)
        problems.extend(found)
        if form is None:
            continue
        key = (form.code, form.version)
        if key in seen:
            problems.append(
                Problem(
                    str(path),
                    None,
                    f"form {form.code} version {form.version} is already defined in "
                    f"{seen[key]}; a changed form needs a new version number",
                )
            )
            continue
        seen[key] = str(path)
        forms.append(form)
    return forms, problems


def check_forms(directory: str | Path) -> list[Problem]:
    """Every problem in every *.toml form of `directory` (empty when all is well)."""
    return _scan(directory)[1]


def load_forms(directory: str | Path) -> FormRegistry:
    """Load every *.toml form of `directory`; FormError listing all problems if any."""
    forms, problems = _scan(directory)
    if problems:
        raise FormError(
            f"{len(problems)} problem(s) in the forms of {directory}:\n"
            + "\n".join(str(p) for p in problems),
            problems,
        )
    return FormRegistry(forms)
