"""The forms' expressions translated into SQL, for key totals computed by the database.

The translation keeps the language's rules on missing values (see models/forms/expr.py):
SQL's NULL behaves like `missing` in arithmetic, comparisons and three-valued and/or;
sum() treats missing as 0, min()/max() skip it, x / 0 is missing. What it does not cover
raises Unsupported, and the caller falls back to the forms engine in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Numeric,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    true,
)
from sqlalchemy.sql.selectable import Subquery

from models.forms import FieldDef, FormDef
from models.forms import expr_parse as syntax
from models.rounds import Answer

Number = int | Decimal


class Unsupported(Exception):
    """The SQL translation does not cover this expression; use the Python path."""


Kind = str  # "int", "dec", "text", "bool", "date", "any"


@dataclass(frozen=True)
class Sql:
    expr: ColumnElement[Any]
    kind: Kind

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "dec", "any")


@dataclass
class Needs:
    fields: dict[str, Kind] = field(default_factory=dict)
    group_aggs: dict[tuple[str, str], Kind] = field(default_factory=dict)
    """(aggregate, field code) → kind; aggregate in sum, min, max, count."""
    item_counts: set[str] = field(default_factory=set)


FIELD_KINDS: dict[str, Kind] = {
    "integer": "int",
    "decimal": "dec",
    "choice": "text",
    "text": "text",
    "date": "date",
    "file": "text",
}


class Compiler:
    """Translates the forms' expression trees to SQL over one row per submission.

    Run twice: first with `pivot=None` to learn which answers are needed (the
    placeholders are NULLs), then with the pivot subquery that holds them."""

    def __init__(
        self,
        form: FormDef,
        dialect: str,
        needs: Needs,
        pivot: Subquery | None,
        context: Callable[[str], ColumnElement[Any]],
    ) -> None:
        self.form = form
        self.dialect = dialect
        self.needs = needs
        self.pivot = pivot
        self.context = context
        self.computed = {c.code: c for c in form.computed}
        self.memo: dict[str, Sql] = {}
        self.depth = 0

    # -- leaves -------------------------------------------------------------------------

    def column(self, name: str) -> ColumnElement[Any]:
        if self.pivot is None:
            # The dry run only collects what the expression needs; a bound NULL (unlike
            # null()) may stand on either side of <, so that two fields compare.
            return literal(None)
        return self.pivot.c[name]

    def field_value(self, f: FieldDef) -> Sql:
        kind = FIELD_KINDS.get(f.type)
        if kind is None:
            raise Unsupported(f"multi-choice field {f.code} used as a value")
        self.needs.fields[f.code] = kind
        raw = self.column(f"f_{f.code}")
        if f.show_if is not None:
            cond = self.node(syntax.parse(f.show_if.source))
            raw = case((cond.expr, raw), else_=null())
        return Sql(raw, kind)

    def group_visible(self, group: str) -> ColumnElement[Any] | None:
        g = self.form.group(group)
        if g.show_if is None:
            return None
        return self.node(syntax.parse(g.show_if.source)).expr

    def group_agg(self, agg: str, attr: syntax.Attr) -> Sql:
        if not self.form.has_group(attr.group):
            raise Unsupported(f"unknown group {attr.group}")
        f = self.form.field(attr.field)
        if f.show_if is not None:
            raise Unsupported(f"group field {f.code} has its own show_if")
        kind = FIELD_KINDS.get(f.type)
        if kind is None:
            raise Unsupported(f"multi-choice group field {f.code}")
        self.needs.group_aggs[(agg, f.code)] = kind
        expr: ColumnElement[Any] = self.column(f"g_{agg}_{f.code}")
        if agg == "count":
            expr = func.coalesce(expr, 0)
            kind = "int"
        visible = self.group_visible(attr.group)
        if visible is not None:
            expr = case((visible, expr), else_=literal(0) if agg == "count" else null())
        return Sql(expr, kind)

    def item_count(self, group: str) -> Sql:
        g = self.form.group(group)
        self.needs.item_counts.add(group)
        stored = func.coalesce(self.column(f"n_{group}"), 0)
        n = case(
            (stored < g.min_items, g.min_items),
            (stored > g.max_items, g.max_items),
            else_=stored,
        )
        visible = self.group_visible(group)
        if visible is not None:
            n = case((visible, n), else_=0)
        return Sql(n, "int")

    def name(self, name: str) -> Sql:
        if name in self.computed:
            if name not in self.memo:
                c = self.computed[name]
                value = self.node(syntax.parse(c.expr.source))
                if c.decimals is not None and value.kind in ("dec", "any"):
                    value = Sql(func.round(value.expr, c.decimals), "dec")
                self.memo[name] = value
            return self.memo[name]
        if self.form.has_field(name):
            f = self.form.field(name)
            if f.group is not None:
                raise Unsupported(f"group field {name} outside a group")
            return self.field_value(f)
        if name in self.form.context:
            return Sql(self.context(name), "text")
        raise Unsupported(f"unknown name {name}")

    # -- the tree -----------------------------------------------------------------------

    def node(self, node: syntax.Node) -> Sql:
        self.depth += 1
        if self.depth > 200:
            raise Unsupported("expression nests too deeply for SQL")
        try:
            return self._node(node)
        finally:
            self.depth -= 1

    def _node(self, node: syntax.Node) -> Sql:
        constant = _literal(node)
        if constant is not None:
            return constant
        if isinstance(node, syntax.Name):
            return self.name(node.name)
        if isinstance(node, syntax.Attr):
            # A bare group column only makes sense inside sum/min/max/count.
            raise Unsupported("group column outside an aggregate")
        if isinstance(node, syntax.Unary):
            operand = self.node(node.operand)
            if node.op == "-":
                return Sql(-operand.expr, operand.kind)
            return Sql(not_(operand.expr), "bool")
        if isinstance(node, syntax.Chain):
            return self.chain(node)
        if isinstance(node, syntax.Compare):
            return self.compare(node)
        if isinstance(node, syntax.Logic):
            parts = [self.node(o).expr for o in node.operands]
            return Sql(and_(*parts) if node.op == "and" else or_(*parts), "bool")
        if isinstance(node, syntax.Call):
            return self.call(node)
        raise Unsupported(f"cannot translate {type(node).__name__}")

    def chain(self, node: syntax.Chain) -> Sql:
        acc = self.node(node.first)
        for op, operand in node.rest:
            right = self.node(operand)
            kind = "int" if acc.kind == "int" and right.kind == "int" else "dec"
            if op == "+":
                acc = Sql(acc.expr + right.expr, kind)
            elif op == "-":
                acc = Sql(acc.expr - right.expr, kind)
            elif op == "*":
                acc = Sql(acc.expr * right.expr, kind)
            else:
                # Integer division truncates in SQL; x / 0 is missing, as in the language.
                exact = Float() if self.dialect == "sqlite" else Numeric()
                acc = Sql(cast(acc.expr, exact) / func.nullif(right.expr, 0), "dec")
        return acc

    def compare(self, node: syntax.Compare) -> Sql:
        if node.op in ("in", "not in"):
            right = node.right
            if not isinstance(right, syntax.ListLit) or not all(
                isinstance(x, syntax.Num | syntax.Str) for x in right.items
            ):
                raise Unsupported("`in` over a non-constant list")
            left = self.node(node.left).expr
            consts = [x.value for x in right.items]  # type: ignore[union-attr]
            if not consts:
                found: ColumnElement[Any] = false() if node.op == "in" else true()
                return Sql(case((left.is_(None), null()), else_=found), "bool")
            expr = left.in_(consts) if node.op == "in" else left.not_in(consts)
            return Sql(expr, "bool")
        if isinstance(node.left, syntax.Missing) or isinstance(node.right, syntax.Missing):
            return Sql(null(), "bool")
        a = self.node(node.left).expr
        b = self.node(node.right).expr
        ops: dict[str, Callable[[Any, Any], ColumnElement[Any]]] = {
            "==": lambda x, y: x == y,
            "!=": lambda x, y: x != y,
            "<": lambda x, y: x < y,
            "<=": lambda x, y: x <= y,
            ">": lambda x, y: x > y,
            ">=": lambda x, y: x >= y,
        }
        return Sql(ops[node.op](a, b), "bool")

    def call(self, node: syntax.Call) -> Sql:
        functions: dict[str, Callable[[str, Sequence[syntax.Node]], Sql]] = {
            "if": self.call_if,
            "count": self.call_count,
            "sum": self.call_aggregate,
            "min": self.call_aggregate,
            "max": self.call_aggregate,
            "abs": self.call_abs,
            "round": self.call_round,
            "answered": self.call_answered,
            "coalesce": self.call_coalesce,
        }
        translate = functions.get(node.func)
        if translate is None:
            raise Unsupported(f"function {node.func}")
        return translate(node.func, node.args)

    def call_if(self, name: str, args: Sequence[syntax.Node]) -> Sql:
        whens = []
        kinds = []
        for i in range(0, len(args) - 1, 2):
            cond = self.node(args[i]).expr
            value = self.node(args[i + 1])
            whens.append((cond, value.expr))
            kinds.append(value.kind)
        otherwise = self.node(args[-1])
        kinds.append(otherwise.kind)
        return Sql(case(*whens, else_=otherwise.expr), _common(kinds))

    def call_count(self, name: str, args: Sequence[syntax.Node]) -> Sql:
        arg = args[0]
        if isinstance(arg, syntax.Name) and self.form.has_group(arg.name):
            return self.item_count(arg.name)
        if isinstance(arg, syntax.Attr):
            return self.group_agg("count", arg)
        raise Unsupported("count() of a multi-choice field")

    def call_aggregate(self, name: str, args: Sequence[syntax.Node]) -> Sql:
        """sum, min or max, of values or of a group's column."""
        parts = [
            self.group_agg(name, a) if isinstance(a, syntax.Attr) else self.node(a) for a in args
        ]
        kind = _common([p.kind for p in parts])
        if name == "sum":
            total: ColumnElement[Any] = func.coalesce(parts[0].expr, 0)
            for p in parts[1:]:
                total = total + func.coalesce(p.expr, 0)
            return Sql(total, kind if kind != "any" else "int")
        return Sql(self.extreme(name, [p.expr for p in parts]), kind)

    def call_abs(self, name: str, args: Sequence[syntax.Node]) -> Sql:
        v = self.node(args[0])
        return Sql(func.abs(v.expr), v.kind)

    def call_round(self, name: str, args: Sequence[syntax.Node]) -> Sql:
        v = self.node(args[0])
        places = args[1].value if len(args) == 2 and isinstance(args[1], syntax.Num) else 0
        if v.kind == "int":
            return v
        return Sql(func.round(v.expr, int(places)), "dec" if places else "int")

    def call_answered(self, name: str, args: Sequence[syntax.Node]) -> Sql:
        return Sql(self.node(args[0]).expr.is_not(None), "bool")

    def call_coalesce(self, name: str, args: Sequence[syntax.Node]) -> Sql:
        parts = [self.node(a) for a in args]
        return Sql(func.coalesce(*[p.expr for p in parts]), _common([p.kind for p in parts]))

    def extreme(self, name: str, exprs: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        if len(exprs) == 1:
            return exprs[0]
        if self.dialect == "postgresql":
            # GREATEST/LEAST skip NULLs, exactly as min()/max() skip missing values.
            return func.greatest(*exprs) if name == "max" else func.least(*exprs)
        # SQLite's scalar max()/min() return NULL if any argument is NULL; coalescing
        # each argument with the others keeps every present value and drops missing.
        n = len(exprs)
        rotated = [func.coalesce(*(exprs[(i + j) % n] for j in range(n))) for i in range(n)]
        return func.max(*rotated) if name == "max" else func.min(*rotated)


def _literal(node: syntax.Node) -> Sql | None:
    """A constant of the language as SQL; None for anything else."""
    if isinstance(node, syntax.Num):
        v = node.value
        if isinstance(v, int):
            return Sql(literal(v), "int")
        return Sql(literal(v, Numeric(38, 10)), "dec")
    if isinstance(node, syntax.Str):
        return Sql(literal(node.value), "text")
    if isinstance(node, syntax.BoolLit):
        return Sql(true() if node.value else false(), "bool")
    if isinstance(node, syntax.Missing):
        return Sql(null(), "any")
    return None


def _common(kinds: Iterable[Kind]) -> Kind:
    ks = {k for k in kinds if k != "any"}
    if not ks:
        return "any"
    if ks <= {"int"}:
        return "int"
    if ks <= {"int", "dec"}:
        return "dec"
    return ks.pop() if len(ks) == 1 else "any"


def value_column(kind: Kind) -> ColumnElement[Any]:
    columns: dict[Kind, ColumnElement[Any]] = {
        "int": Answer.value_int.expression,
        "dec": Answer.value_dec.expression,
        "date": Answer.value_date.expression,
    }
    return columns.get(kind, Answer.value_text.expression)


def to_number(raw: object, kind: Kind) -> Number:
    if kind == "int":
        return int(raw)  # type: ignore[call-overload,no-any-return]
    if isinstance(raw, Decimal):
        return raw
    if isinstance(raw, float):
        # SQLite adds decimals as floats; their repr is the shortest exact decimal.
        return Decimal(repr(raw))
    return Decimal(raw)  # type: ignore[arg-type]
