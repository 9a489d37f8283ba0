"""Building one FormDef from the parsed TOML of a form file.

The steps run in the order of the file's meaning: the header, the context, the
questions, one namespace for every code, the order questions are asked in, show_if
(which may only look back), computed fields (which may only look up), rules, key
totals and the chart. Every step records its problems and goes on, so that one run
lists them all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, cast

from models.forms.definition import (
    PERIOD_TYPES,
    STAGES,
    ComputedDef,
    FieldDef,
    FormDef,
    GroupDef,
    PeriodType,
    Problem,
    RuleDef,
    Text,
)
from models.forms.expr import RESERVED
from models.forms.expr_values import ANY, BOOL, GROUP, NUMBER, TEXT, Expr, Scope, Symbol, is_list
from models.forms.loader_fields import field_symbol, read_field, read_group
from models.forms.loader_rules import KeyTotalRefs, read_chart, read_key_totals, read_rule
from models.forms.loader_tables import CODE_RE, TableReader, is_whole, quiet_tables

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
COMPUTED_KEYS = ("code", "label", "expr", "unit", "decimals")

_LATER = "is asked later in the form; show_if may only use fields asked before it"
_COMPUTED_IN_SHOW_IF = "is a computed field; show_if may only use answers asked before it"
_LATER_COMPUTED = "is computed further down; use only computed fields defined above"

Item = FieldDef | GroupDef


def build_form(data: Mapping[str, Any], file: str) -> tuple[FormDef | None, list[Problem]]:
    """The form of one parsed file, or None and every problem found in it."""
    return _FormBuilder(data, file).build()


def _fields_of(entry: Item) -> tuple[FieldDef, ...]:
    return entry.fields if isinstance(entry, GroupDef) else (entry,)


class _FormBuilder:
    def __init__(self, data: Mapping[str, Any], file: str) -> None:
        self.data = data
        self.ld = TableReader(file)
        self.file = file
        # Every code an expression can name, and what it is (for "used twice").
        self.owners: dict[str, str] = {}
        self.context: dict[str, Symbol] = {}
        self.top_fields: list[FieldDef] = []
        self.raw_groups: list[tuple[GroupDef, dict[str, Any]]] = []
        self.groups: list[GroupDef] = []
        self.computed_codes: list[tuple[str, Mapping[str, Any]]] = []
        self.group_symbols: dict[str, dict[str, Symbol]] = {}
        self.all_names: dict[str, Symbol] = {}
        self.computed: list[ComputedDef] = []
        self.field_order: list[str] = []

    def build(self) -> tuple[FormDef | None, list[Problem]]:
        ld, data = self.ld, self.data
        ld.unknown_keys(data, FORM_KEYS, None)
        code = self.form_code()
        version = self.version()
        title = ld.text(data, "title", None, required=True)
        description = ld.text(data, "description", None, required=False)
        period = self.period_type()
        self.read_context()
        self.read_questions()
        self.claim_codes()
        resolved = self.resolve_show_if(self.order_items())
        self.read_computed()
        self.field_order = [f.code for entry in resolved for f in _fields_of(entry)]
        rule_codes: set[str] = set()
        rules = self.read_rules(rule_codes)
        items = [self.with_group_rules(entry, rule_codes) for entry in resolved]
        key_totals = read_key_totals(ld, data.get("key_totals"), self.key_total_refs())
        known = {k.code for k in key_totals} | {c.code for c in self.computed}
        chart = read_chart(ld, data.get("chart"), known)
        if ld.problems or code is None or version is None or title is None or period is None:
            return None, ld.problems
        form = FormDef(
            code=code,
            version=version,
            title=title,
            description=description,
            period_type=cast(PeriodType, period),
            items=tuple(items),
            rules=tuple(rules),
            computed=tuple(self.computed),
            key_totals=tuple(key_totals),
            chart=chart,
            context=tuple(self.context),
            source=self.file,
        )
        return form, []

    # -- the header ---------------------------------------------------------------------

    def form_code(self) -> str | None:
        code = self.data.get("code")
        if code is None:
            self.ld.problem(None, "the form has no code")
        elif not isinstance(code, str) or not CODE_RE.match(code):
            self.ld.problem(
                None, f"form code {code!r} is not valid (lower-case letters, digits, _)"
            )
            return None
        return code

    def version(self) -> int | None:
        version = self.data.get("version")
        if version is None:
            self.ld.problem(None, "the form has no version (a whole number, starting at 1)")
        elif not is_whole(version) or version < 1:
            self.ld.problem(None, f"version must be a whole number of at least 1, not {version!r}")
            return None
        return version

    def period_type(self) -> str | None:
        period = self.data.get("period_type")
        if period in PERIOD_TYPES:
            return cast(str, period)
        self.ld.problem(
            None,
            f"period_type must be one of {', '.join(PERIOD_TYPES)}, not {period!r}"
            if period is not None
            else f"period_type is missing (one of: {', '.join(PERIOD_TYPES)})",
        )
        return None

    def read_context(self) -> None:
        """Values the caller supplies (never asked). `stage` is always there."""
        self.context = {"stage": Symbol(TEXT, "context", frozenset(STAGES))}
        raw_context = self.data.get("context", [])
        if not isinstance(raw_context, list) or not all(isinstance(c, str) for c in raw_context):
            self.ld.problem(None, 'context must be a list of names, e.g. context = ["district"]')
            raw_context = []
        for name in raw_context:
            if not CODE_RE.match(name) or name in RESERVED:
                self.ld.problem(None, f"context name {name!r} is not valid")
            else:
                self.context.setdefault(name, Symbol(TEXT, "context"))

    # -- the questions ------------------------------------------------------------------

    def read_questions(self) -> None:
        """Fields and groups, before their expressions can be checked."""
        ld = self.ld
        for i, t in enumerate(ld.tables(self.data.get("fields"), None, "fields")):
            f = read_field(ld, t, i, None)
            if f is not None:
                self.top_fields.append(f)
        for gi, gt in enumerate(ld.tables(self.data.get("groups"), None, "groups")):
            g = read_group(ld, gt, gi)
            if g is not None:
                self.raw_groups.append((g, gt))
        if not self.top_fields and not self.raw_groups:
            ld.problem(None, "the form has no fields")

    def claim(self, name: str, what: str, where: str) -> bool:
        if name in self.owners:
            self.ld.problem(where, f"code '{name}' is used twice (already a {self.owners[name]})")
            return False
        self.owners[name] = what
        return True

    def claim_codes(self) -> None:
        """One namespace for everything an expression can name; the second of two
        things with the same code is dropped."""
        ld = self.ld
        self.owners = dict.fromkeys(self.context, "context")
        self.top_fields = [f for f in self.top_fields if self.claim(f.code, "field", f.code)]
        for g, _raw in self.raw_groups:
            if not self.claim(g.code, "group", f"group {g.code}"):
                continue
            what = f"field of group {g.code}"
            kept = tuple(f for f in g.fields if self.claim(f.code, what, f.code))
            self.groups.append(dataclasses.replace(g, fields=kept))
        for i, ct in enumerate(ld.tables(self.data.get("computed"), None, "computed")):
            ld.unknown_keys(ct, COMPUTED_KEYS, f"computed {ct.get('code', i + 1)}")
            c = ld.code(ct, f"computed[{i + 1}]", "computed field")
            if c is not None and self.claim(c, "computed field", f"computed {c}"):
                self.computed_codes.append((c, ct))
        self.group_symbols = {
            g.code: {f.code: field_symbol(f) for f in g.fields} for g in self.groups
        }

    def order_items(self) -> list[Item]:
        """Top-level fields as written, each group right after its `after` field (or at
        the end), groups sharing a place in the order written."""
        top_codes = {f.code for f in self.top_fields}
        trailing: list[GroupDef] = []
        by_after: dict[str, list[GroupDef]] = {}
        for g in self.groups:
            if g.after is None:
                trailing.append(g)
            elif g.after not in top_codes:
                self.ld.problem(f"group {g.code}", f"after = '{g.after}' is not a top-level field")
                trailing.append(g)
            else:
                by_after.setdefault(g.after, []).append(g)
        items: list[Item] = []
        for f in self.top_fields:
            items.append(f)
            items.extend(by_after.get(f.code, []))
        items.extend(trailing)
        return items

    def raw_group(self, code: str) -> dict[str, Any]:
        return next(t for g, t in self.raw_groups if g.code == code)

    # -- show_if: each may use only what is asked before it, and the context ------------

    def resolve_show_if(self, items: list[Item]) -> list[Item]:
        all_field_names = {f.code for f in self.top_fields}
        before: dict[str, Symbol] = dict(self.context)
        before_groups: dict[str, Mapping[str, Symbol]] = {}
        resolved: list[Item] = []
        for entry in items:
            unavailable = {n: _LATER for n in all_field_names if n not in before}
            unavailable.update({g: _LATER for g in self.group_symbols if g not in before_groups})
            unavailable.update({c: _COMPUTED_IN_SHOW_IF for c, _ in self.computed_codes})
            scope = Scope(before, before_groups, unavailable)
            if isinstance(entry, FieldDef):
                entry = self.field_show_if(entry, scope)
                before[entry.code] = field_symbol(entry)
            else:
                entry = self.group_show_if(entry, scope)
                before_groups[entry.code] = self.group_symbols[entry.code]
            resolved.append(entry)
        return resolved

    def field_show_if(self, f: FieldDef, scope: Scope) -> FieldDef:
        raw = _raw_show_if(self.data, f)
        if raw is None:
            return f
        e = self.ld.expression(raw, scope, f.code, "show_if")
        if e is not None and e.type not in (BOOL, ANY):
            self.ld.problem(f.code, f"show_if {raw!r} must be a condition (true/false)")
        return dataclasses.replace(f, show_if=e)

    def group_show_if(self, group: GroupDef, scope: Scope) -> GroupDef:
        """The group's own show_if, then its fields', each of which may also use the
        fields of the same item asked before it."""
        gt = self.raw_group(group.code)
        gshow = None
        if gt.get("show_if") is not None:
            gshow = self.ld.expression(gt["show_if"], scope, f"group {group.code}", "show_if")
        item_names = dict(scope.names)
        own = {f.code for f in group.fields}
        raw_fields = {
            ft["code"]: ft
            for ft in quiet_tables(gt.get("fields"))
            if isinstance(ft.get("code"), str)
        }
        fields: list[FieldDef] = []
        for f in group.fields:
            raw = raw_fields.get(f.code, {}).get("show_if")
            if raw is not None:
                un = dict(scope.unavailable)
                un.update({n: _LATER for n in own if n not in item_names})
                un[group.code] = "is the group being asked; use its fields directly"
                item_scope = Scope(item_names, scope.groups, un)
                f = dataclasses.replace(
                    f, show_if=self.ld.expression(raw, item_scope, f.code, "show_if")
                )
            item_names[f.code] = field_symbol(f, "item")
            fields.append(f)
        return dataclasses.replace(group, fields=tuple(fields), show_if=gshow)

    # -- computed fields: any field, any context, computed fields defined above ---------

    def read_computed(self) -> None:
        self.all_names = dict(self.context)
        self.all_names.update({f.code: field_symbol(f) for f in self.top_fields})
        for i, (c, raw_c) in enumerate(self.computed_codes):
            unavailable = {n: _LATER_COMPUTED for n, _ in self.computed_codes[i:]}
            scope = Scope(self.all_names, self.group_symbols, unavailable)
            computed = self.computed_field(c, raw_c, scope)
            if computed is not None:
                self.computed.append(computed)

    def computed_field(self, c: str, raw_c: Mapping[str, Any], scope: Scope) -> ComputedDef | None:
        ld = self.ld
        where = f"computed {c}"
        label = ld.text(raw_c, "label", where, required=True)
        if "expr" not in raw_c:
            ld.problem(where, "expr is missing")
            return None
        e = ld.expression(raw_c["expr"], scope, where, "expr")
        decimals = ld.int_value(raw_c, "decimals", where, 0, 6)
        unit = ld.text(raw_c, "unit", where, required=False)
        if e is not None and (is_list(e.type) or e.type == GROUP):
            ld.problem(where, f"expr {raw_c['expr']!r} gives a list; wrap it in sum() or count()")
            e = None
        if e is not None:
            # Later computed fields (and rules) may use this one.
            self.all_names[c] = Symbol(e.type, "computed")
        if e is None or label is None:
            return None
        return ComputedDef(c, label, e, unit, decimals)

    # -- rules --------------------------------------------------------------------------

    def inputs_of(self, e: Expr) -> tuple[str, ...]:
        """The fields `e` depends on, through computed fields too, in form order."""
        computed_by_code = {c.code: c for c in self.computed}
        field_order_set = set(self.field_order)
        found: set[str] = set()
        todo = [e]
        while todo:
            cur = todo.pop()
            found.update(n for n in cur.names if n in field_order_set)
            found.update(f for _, f in cur.group_fields)
            todo.extend(computed_by_code[n].expr for n in cur.names if n in computed_by_code)
        return tuple(c for c in self.field_order if c in found)

    def read_rules(self, rule_codes: set[str]) -> list[RuleDef]:
        scope = Scope(self.all_names, self.group_symbols)
        rules = []
        for i, rt in enumerate(self.ld.tables(self.data.get("rules"), None, "rules")):
            r = read_rule(self.ld, rt, i, scope, None, rule_codes, self.inputs_of)
            if r is not None:
                rules.append(r)
        return rules

    def with_group_rules(self, entry: Item, rule_codes: set[str]) -> Item:
        """A group with its per-item rules, which see the item's fields by bare name."""
        if not isinstance(entry, GroupDef):
            return entry
        gt = self.raw_group(entry.code)
        names = dict(self.all_names)
        names.update({f.code: field_symbol(f, "item") for f in entry.fields})
        scope = Scope(names, self.group_symbols)
        grules = []
        where = f"group {entry.code}"
        for i, rt in enumerate(self.ld.tables(gt.get("rules"), where, "rules")):
            r = read_rule(self.ld, rt, i, scope, entry.code, rule_codes, self.inputs_of)
            if r is not None:
                grules.append(r)
        return dataclasses.replace(entry, rules=tuple(grules))

    # -- key totals ---------------------------------------------------------------------

    def key_total_refs(self) -> KeyTotalRefs:
        numeric = {n for n, s in self.all_names.items() if s.type == NUMBER and s.kind != "context"}
        group_numeric = {
            f"{g}.{f}"
            for g, fs in self.group_symbols.items()
            for f, s in fs.items()
            if s.type == NUMBER
        }
        labels: dict[str, Text] = {f.code: f.label for f in self.top_fields}
        labels.update({c.code: c.label for c in self.computed})
        units: dict[str, Text | None] = {f.code: f.unit for f in self.top_fields}
        units.update({c.code: c.unit for c in self.computed})
        return KeyTotalRefs(numeric, group_numeric, labels, units, set(self.context))


def _raw_show_if(data: Mapping[str, Any], f: FieldDef) -> object:
    for t in quiet_tables(data.get("fields")):
        if t.get("code") == f.code:
            return t.get("show_if")
    return None
