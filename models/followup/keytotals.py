"""A round's key totals (the figures a summary adds up), computed in SQL.

A form's key totals name fields and computed fields; computed fields are expressions
of the forms' little language. Here those expressions are translated into SQL, so
that the database adds up 20,000 schools' returns in one GROUP BY instead of Python
walking 400,000 answer rows. The translation keeps the language's rules on missing
values (see models/forms/expr.py): SQL's NULL behaves like `missing` in arithmetic,
comparisons and three-valued and/or; sum() treats missing as 0, min()/max() skip it,
x / 0 is missing.

What it reads: the latest submitted revision of each expected school (the answers
that count, written by the report service from the form's clean answers). Items of a
group beyond its item count are assumed absent, as clean() leaves them.

Any expression the translation does not cover (a multi-choice value used in
arithmetic, a per-item show_if on a summed group field, a non-constant `in` list)
falls back to the forms engine in Python over the same rows: slower, same result.
`python_key_totals` is that path, also used by tests to check the SQL one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
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
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import Subquery

from models.followup.completeness import analytic
from models.forms import (
    ITEM_COUNT,
    Answers,
    FieldDef,
    FormDef,
    FormError,
    FormRegistry,
    KeyTotalDef,
    KeyTotalResult,
    aggregate_key_totals,
    from_rows,
)
from models.forms.expr import (
    DECIMAL_CONTEXT,
    Attr,
    BoolLit,
    Call,
    Chain,
    Compare,
    ListLit,
    Logic,
    Missing,
    Name,
    Neg,
    Node,
    Not,
    Num,
    Str,
    parse,
    round_half_up,
)
from models.roster.tables import School
from models.round_service import round_form as stored_form
from models.rounds import Answer, Round, RoundSchool, Submission

Number = int | Decimal


class Unsupported(Exception):
    """The SQL translation does not cover this expression; use the Python path."""


# --- the form of a round ---------------------------------------------------------------


async def round_form(
    session: AsyncSession, rnd: Round, registry: FormRegistry | None = None
) -> FormDef:
    """The exact form version the round asked, from its stored text (so an old round
    keeps its form after the file changed; parsed once per process by the round
    service), else from a loaded registry. FormError if neither has it."""
    try:
        return await stored_form(session, rnd)
    except KeyError:
        pass
    if registry is not None:
        try:
            return registry.get(rnd.form_code, rnd.form_version)
        except KeyError:
            pass
    raise FormError(f"form {rnd.form_code} v{rnd.form_version} is not stored")


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyTotals:
    """The key totals of a round, overall and per district (same codes, same order)."""

    overall: dict[str, KeyTotalResult]
    by_district: dict[int, dict[str, KeyTotalResult]] = field(default_factory=dict)
    in_sql: bool = True
    """False when the form needed the Python path."""


class _Acc:
    __slots__ = ("den", "num", "schools")

    def __init__(self) -> None:
        self.num: Number = 0
        self.den: Number = 0
        self.schools = 0

    def add(self, num: Number, den: Number, schools: int) -> None:
        self.num = _add(self.num, num)
        self.den = _add(self.den, den)
        self.schools += schools


def _add(a: Number, b: Number) -> Number:
    if type(a) is int and type(b) is int:
        return a + b
    return DECIMAL_CONTEXT.add(Decimal(a), Decimal(b))


def _finish(kt: KeyTotalDef, a: _Acc) -> Number | None:
    # The same rounding as models.forms.engine, so both paths agree to the digit.
    if kt.aggregate == "sum":
        return round_half_up(a.num, kt.decimals) if isinstance(a.num, Decimal) else a.num
    if a.den == 0:
        return None
    ratio = DECIMAL_CONTEXT.multiply(DECIMAL_CONTEXT.divide(a.num, a.den), kt.scale)
    return round_half_up(ratio, kt.decimals)


def _result(kt: KeyTotalDef, overall: _Acc, buckets: dict[str, _Acc]) -> KeyTotalResult:
    ratio = kt.aggregate == "ratio"
    has = overall.schools > 0
    return KeyTotalResult(
        code=kt.code,
        label=kt.label,
        aggregate=kt.aggregate,
        value=_finish(kt, overall) if has else None,
        schools=overall.schools,
        by={k: _finish(kt, b) for k, b in sorted(buckets.items())},
        unit=kt.unit,
        numerator=overall.num if has else None,
        denominator=overall.den if has and ratio else None,
    )


# --- expression → SQL ------------------------------------------------------------------

Kind = str  # "int", "dec", "text", "bool", "date", "any"


@dataclass(frozen=True)
class _Sql:
    expr: ColumnElement[Any]
    kind: Kind

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "dec", "any")


@dataclass
class _Needs:
    fields: dict[str, Kind] = field(default_factory=dict)
    group_aggs: dict[tuple[str, str], Kind] = field(default_factory=dict)
    """(aggregate, field code) → kind; aggregate in sum, min, max, count."""
    item_counts: set[str] = field(default_factory=set)


_FIELD_KINDS: dict[str, Kind] = {
    "integer": "int",
    "decimal": "dec",
    "choice": "text",
    "text": "text",
    "date": "date",
}


class _Compiler:
    """Translates the forms' expression trees to SQL over one row per submission.

    Run twice: first with `pivot=None` to learn which answers are needed (the
    placeholders are NULLs), then with the pivot subquery that holds them."""

    def __init__(
        self,
        form: FormDef,
        dialect: str,
        needs: _Needs,
        pivot: Subquery | None,
        context: Callable[[str], ColumnElement[Any]],
    ) -> None:
        self.form = form
        self.dialect = dialect
        self.needs = needs
        self.pivot = pivot
        self.context = context
        self.computed = {c.code: c for c in form.computed}
        self.memo: dict[str, _Sql] = {}
        self.depth = 0

    # -- leaves -------------------------------------------------------------------------

    def column(self, name: str) -> ColumnElement[Any]:
        if self.pivot is None:
            return null()
        return self.pivot.c[name]

    def field_value(self, f: FieldDef) -> _Sql:
        kind = _FIELD_KINDS.get(f.type)
        if kind is None:
            raise Unsupported(f"multi-choice field {f.code} used as a value")
        self.needs.fields[f.code] = kind
        raw = self.column(f"f_{f.code}")
        if f.show_if is not None:
            cond = self.node(parse(f.show_if.source))
            raw = case((cond.expr, raw), else_=null())
        return _Sql(raw, kind)

    def group_visible(self, group: str) -> ColumnElement[Any] | None:
        g = self.form.group(group)
        if g.show_if is None:
            return None
        return self.node(parse(g.show_if.source)).expr

    def group_agg(self, agg: str, attr: Attr) -> _Sql:
        if not self.form.has_group(attr.group):
            raise Unsupported(f"unknown group {attr.group}")
        f = self.form.field(attr.field)
        if f.show_if is not None:
            raise Unsupported(f"group field {f.code} has its own show_if")
        kind = _FIELD_KINDS.get(f.type)
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
        return _Sql(expr, kind)

    def item_count(self, group: str) -> _Sql:
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
        return _Sql(n, "int")

    def name(self, name: str) -> _Sql:
        if name in self.computed:
            if name not in self.memo:
                c = self.computed[name]
                value = self.node(parse(c.expr.source))
                if c.decimals is not None and value.kind in ("dec", "any"):
                    value = _Sql(func.round(value.expr, c.decimals), "dec")
                self.memo[name] = value
            return self.memo[name]
        if self.form.has_field(name):
            f = self.form.field(name)
            if f.group is not None:
                raise Unsupported(f"group field {name} outside a group")
            return self.field_value(f)
        if name in self.form.context:
            return _Sql(self.context(name), "text")
        raise Unsupported(f"unknown name {name}")

    # -- the tree -----------------------------------------------------------------------

    def node(self, node: Node) -> _Sql:
        self.depth += 1
        if self.depth > 200:
            raise Unsupported("expression nests too deeply for SQL")
        try:
            return self._node(node)
        finally:
            self.depth -= 1

    def _node(self, node: Node) -> _Sql:
        if isinstance(node, Num):
            v = node.value
            if isinstance(v, int):
                return _Sql(literal(v), "int")
            return _Sql(literal(v, Numeric(38, 10)), "dec")
        if isinstance(node, Str):
            return _Sql(literal(node.value), "text")
        if isinstance(node, BoolLit):
            return _Sql(true() if node.value else false(), "bool")
        if isinstance(node, Missing):
            return _Sql(null(), "any")
        if isinstance(node, Name):
            return self.name(node.name)
        if isinstance(node, Attr):
            # A bare group column only makes sense inside sum/min/max/count.
            raise Unsupported("group column outside an aggregate")
        if isinstance(node, Neg):
            neg = self.node(node.operand)
            return _Sql(-neg.expr, neg.kind)
        if isinstance(node, Chain):
            return self.chain(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Logic):
            parts = [self.node(o).expr for o in node.operands]
            return _Sql(and_(*parts) if node.op == "and" else or_(*parts), "bool")
        if isinstance(node, Not):
            return _Sql(not_(self.node(node.operand).expr), "bool")
        if isinstance(node, Call):
            return self.call(node)
        raise Unsupported(f"cannot translate {type(node).__name__}")

    def chain(self, node: Chain) -> _Sql:
        acc = self.node(node.first)
        for op, operand in node.rest:
            right = self.node(operand)
            kind = "int" if acc.kind == "int" and right.kind == "int" else "dec"
            if op == "+":
                acc = _Sql(acc.expr + right.expr, kind)
            elif op == "-":
                acc = _Sql(acc.expr - right.expr, kind)
            elif op == "*":
                acc = _Sql(acc.expr * right.expr, kind)
            else:
                # Integer division truncates in SQL; x / 0 is missing, as in the language.
                exact = Float() if self.dialect == "sqlite" else Numeric()
                acc = _Sql(cast(acc.expr, exact) / func.nullif(right.expr, 0), "dec")
        return acc

    def compare(self, node: Compare) -> _Sql:
        if node.op in ("in", "not in"):
            right = node.right
            if not isinstance(right, ListLit) or not all(
                isinstance(x, Num | Str) for x in right.items
            ):
                raise Unsupported("`in` over a non-constant list")
            left = self.node(node.left).expr
            consts = [x.value for x in right.items]  # type: ignore[union-attr]
            if not consts:
                found: ColumnElement[Any] = false() if node.op == "in" else true()
                return _Sql(case((left.is_(None), null()), else_=found), "bool")
            expr = left.in_(consts) if node.op == "in" else left.not_in(consts)
            return _Sql(expr, "bool")
        if isinstance(node.left, Missing) or isinstance(node.right, Missing):
            return _Sql(null(), "bool")
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
        return _Sql(ops[node.op](a, b), "bool")

    def call(self, node: Call) -> _Sql:
        name, args = node.func, node.args
        if name == "if":
            whens = []
            kinds = []
            for i in range(0, len(args) - 1, 2):
                cond = self.node(args[i]).expr
                value = self.node(args[i + 1])
                whens.append((cond, value.expr))
                kinds.append(value.kind)
            otherwise = self.node(args[-1])
            kinds.append(otherwise.kind)
            return _Sql(case(*whens, else_=otherwise.expr), _common(kinds))
        if name == "count":
            arg = args[0]
            if isinstance(arg, Name) and self.form.has_group(arg.name):
                return self.item_count(arg.name)
            if isinstance(arg, Attr):
                return self.group_agg("count", arg)
            raise Unsupported("count() of a multi-choice field")
        if name in ("sum", "min", "max"):
            parts = [self.group_agg(name, a) if isinstance(a, Attr) else self.node(a) for a in args]
            kind = _common([p.kind for p in parts])
            if name == "sum":
                total: ColumnElement[Any] = func.coalesce(parts[0].expr, 0)
                for p in parts[1:]:
                    total = total + func.coalesce(p.expr, 0)
                return _Sql(total, kind if kind != "any" else "int")
            return _Sql(self.extreme(name, [p.expr for p in parts]), kind)
        if name == "abs":
            v = self.node(args[0])
            return _Sql(func.abs(v.expr), v.kind)
        if name == "round":
            v = self.node(args[0])
            places = args[1].value if len(args) == 2 and isinstance(args[1], Num) else 0
            if v.kind == "int":
                return v
            return _Sql(func.round(v.expr, int(places)), "dec" if places else "int")
        if name == "answered":
            return _Sql(self.node(args[0]).expr.is_not(None), "bool")
        if name == "coalesce":
            parts = [self.node(a) for a in args]
            return _Sql(func.coalesce(*[p.expr for p in parts]), _common([p.kind for p in parts]))
        raise Unsupported(f"function {name}")

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


def _common(kinds: Iterable[Kind]) -> Kind:
    ks = {k for k in kinds if k != "any"}
    if not ks:
        return "any"
    if ks <= {"int"}:
        return "int"
    if ks <= {"int", "dec"}:
        return "dec"
    return ks.pop() if len(ks) == 1 else "any"


def _value_column(kind: Kind) -> ColumnElement[Any]:
    columns: dict[Kind, ColumnElement[Any]] = {
        "int": Answer.value_int.expression,
        "dec": Answer.value_dec.expression,
        "date": Answer.value_date.expression,
    }
    return columns.get(kind, Answer.value_text.expression)


def _to_number(raw: object, kind: Kind) -> Number:
    if kind == "int":
        return int(raw)  # type: ignore[call-overload,no-any-return]
    if isinstance(raw, Decimal):
        return raw
    if isinstance(raw, float):
        # SQLite adds decimals as floats; their repr is the shortest exact decimal.
        return Decimal(repr(raw))
    return Decimal(raw)  # type: ignore[arg-type]


# --- the query -------------------------------------------------------------------------


def _scope(round_id: int, district_id: int | None) -> Any:
    """Latest submitted revisions of the round's expected schools (optionally one
    district's): one row per submission."""
    q = (
        select(Submission.id, Submission.school_id, Submission.current_revision)
        .join(
            RoundSchool,
            and_(
                RoundSchool.round_id == Submission.round_id,
                RoundSchool.school_id == Submission.school_id,
            ),
        )
        .where(Submission.round_id == round_id, Submission.current_revision > 0)
    )
    if district_id is not None:
        q = q.join(School, School.id == Submission.school_id).where(
            School.district_id == district_id
        )
    return q


async def sql_key_totals(
    session: AsyncSession, form: FormDef, round_id: int, district_id: int | None = None
) -> KeyTotals:
    """Key totals in one SQL statement; Unsupported if the form needs the Python path."""
    totals = form.key_totals
    if not totals:
        return KeyTotals({})
    await analytic(session)
    dialect = session.get_bind().dialect.name
    needs = _Needs()

    def refs(c: _Compiler) -> list[tuple[_Sql, _Sql | None]]:
        out: list[tuple[_Sql, _Sql | None]] = []
        for kt in totals:
            if kt.aggregate == "sum":
                out.append((_ref(c, kt.of), None))
            else:
                out.append((_ref(c, kt.numerator), _ref(c, kt.denominator)))
        return out

    by_names = sorted({kt.by for kt in totals if kt.by})
    dry = _Compiler(form, dialect, needs, None, lambda _n: null())
    refs(dry)
    for b in by_names:
        dry.name(b)

    pivot = _pivot(needs, round_id, district_id)

    def context(name: str) -> ColumnElement[Any]:
        # The only context the bureau knows of a school is its stage.
        return School.stage.expression if name == "stage" else null()

    comp = _Compiler(form, dialect, needs, pivot, context)
    parts = refs(comp)
    by_exprs = [comp.name(b) for b in by_names]
    columns: list[ColumnElement[Any]] = [School.district_id.expression]
    columns += [b.expr for b in by_exprs]
    for num, den in parts:
        if den is None:
            columns += [func.sum(num.expr), func.count(num.expr)]
        else:
            both = and_(num.expr.is_not(None), den.expr.is_not(None))
            columns += [
                func.sum(case((both, num.expr))),
                func.sum(case((both, den.expr))),
                func.count(case((both, 1))),
            ]
    group_by = [School.district_id, *(b.expr for b in by_exprs)]
    query = (
        select(*columns)
        .select_from(pivot)
        .join(School, School.id == pivot.c.school_id)
        .group_by(*group_by)
    )
    rows = (await session.execute(query)).all()

    overall = [_Acc() for _ in totals]
    districts: dict[int, list[_Acc]] = {}
    buckets: list[dict[str, _Acc]] = [{} for _ in totals]
    for row in rows:
        district = row[0]
        by_values = dict(zip(by_names, row[1 : 1 + len(by_names)], strict=True))
        pos = 1 + len(by_names)
        accs = districts.setdefault(district, [_Acc() for _ in totals])
        for i, (kt, (num, den)) in enumerate(zip(totals, parts, strict=True)):
            if den is None:
                s, n = row[pos], row[pos + 1]
                pos += 2
                d_val: Number = 0
            else:
                s, d_raw, n = row[pos], row[pos + 1], row[pos + 2]
                pos += 3
                d_val = _to_number(d_raw, den.kind) if d_raw is not None else 0
            if not n:
                continue
            s_val = _to_number(s, num.kind)
            overall[i].add(s_val, d_val, n)
            accs[i].add(s_val, d_val, n)
            key = by_values.get(kt.by) if kt.by else None
            if isinstance(key, str):
                buckets[i].setdefault(key, _Acc()).add(s_val, d_val, n)
    result = {kt.code: _result(kt, overall[i], buckets[i]) for i, kt in enumerate(totals)}
    per_district = {
        d: {kt.code: _result(kt, accs[i], {}) for i, kt in enumerate(totals)}
        for d, accs in districts.items()
    }
    return KeyTotals(result, per_district, in_sql=True)


def _ref(c: _Compiler, ref: str | None) -> _Sql:
    assert ref is not None
    if "." in ref:
        group, fcode = ref.split(".", 1)
        return c.group_agg("sum", Attr(group, fcode, 0))
    value = c.name(ref)
    if not value.numeric:
        raise Unsupported(f"key total of a non-number {ref}")
    return value


def _pivot(needs: _Needs, round_id: int, district_id: int | None) -> Subquery:
    """One row per submission with the needed answers as columns."""
    scope = _scope(round_id, district_id).subquery("s")
    cols: list[ColumnElement[Any]] = []
    codes: set[str] = set()
    for code, kind in needs.fields.items():
        codes.add(code)
        value = _value_column(kind)
        cols.append(
            func.max(case((and_(Answer.field == code, Answer.item == 0), value))).label(f"f_{code}")
        )
    for (agg, code), kind in needs.group_aggs.items():
        codes.add(code)
        value = _value_column(kind)
        picked = case((and_(Answer.field == code, Answer.item >= 0), value))
        aggregate: ColumnElement[Any]
        if agg == "sum":
            aggregate = func.sum(picked)
        elif agg == "min":
            aggregate = func.min(picked)
        elif agg == "max":
            aggregate = func.max(picked)
        else:
            aggregate = func.count(picked)
        cols.append(aggregate.label(f"g_{agg}_{code}"))
    for group in needs.item_counts:
        codes.add(group)
        cols.append(
            func.max(
                case((and_(Answer.field == group, Answer.item == ITEM_COUNT), Answer.value_int))
            ).label(f"n_{group}")
        )
    join_on = and_(
        Answer.submission_id == scope.c.id,
        Answer.revision == scope.c.current_revision,
    )
    if codes:
        join_on = and_(join_on, Answer.field.in_(sorted(codes)))
    return (
        select(scope.c.id.label("sid"), scope.c.school_id.label("school_id"), *cols)
        .select_from(scope)
        .outerjoin(Answer, join_on)
        .group_by(scope.c.id, scope.c.school_id)
        .subquery("p")
    )


# --- the Python path -------------------------------------------------------------------


def raw_value(
    value_int: int | None, value_dec: Decimal | None, value_text: str | None, value_date: Any
) -> object:
    """The one value column an answer row has set."""
    if value_int is not None:
        return value_int
    if value_dec is not None:
        return value_dec
    if value_text is not None:
        return value_text
    return value_date


@dataclass
class SchoolReturn:
    """One school's latest submitted answers, as rows (field, item, raw value)."""

    submission_id: int
    school_id: int
    district_id: int
    stage: str
    revision: int
    rows: list[tuple[str, int, object]]


async def latest_returns(
    session: AsyncSession,
    round_id: int,
    district_id: int | None = None,
    fields: Sequence[str] | None = None,
) -> AsyncIterator[SchoolReturn]:
    """Stream each submitted school's latest answers, ordered by submission; memory
    stays flat whatever the number of schools."""
    scope = _scope(round_id, district_id).subquery("s")
    join_on = and_(Answer.submission_id == scope.c.id, Answer.revision == scope.c.current_revision)
    if fields is not None:
        join_on = and_(join_on, Answer.field.in_(list(fields)))
    query = (
        select(
            scope.c.id,
            scope.c.school_id,
            School.district_id,
            School.stage,
            scope.c.current_revision,
            Answer.field,
            Answer.item,
            Answer.value_int,
            Answer.value_dec,
            Answer.value_text,
            Answer.value_date,
        )
        .select_from(scope)
        .join(School, School.id == scope.c.school_id)
        .outerjoin(Answer, join_on)
        .order_by(scope.c.id)
        .execution_options(yield_per=5000)
    )
    current: SchoolReturn | None = None
    await analytic(session)
    result = await session.stream(query)
    # By partitions: iterating row by row costs a greenlet switch per answer row,
    # which was most of an export's time.
    async for partition in result.partitions(5000):
        for sid, school_id, district, stage, rev, code, item, vi, vd, vt, vdate in partition:
            if current is None or current.submission_id != sid:
                if current is not None:
                    yield current
                current = SchoolReturn(sid, school_id, district, stage, rev, [])
            if code is not None:
                current.rows.append((code, item, raw_value(vi, vd, vt, vdate)))
    if current is not None:
        yield current


@dataclass
class SchoolValues:
    """One school's latest submitted answers, typed, as the forms engine reads them."""

    submission_id: int
    school_id: int
    stage: str
    answers: Answers


async def latest_values(
    session: AsyncSession, form: FormDef, round_id: int, district_id: int | None = None
) -> AsyncIterator[SchoolValues]:
    """Each submitted school's answers, ordered by submission.

    The database pivots the top-level answers into one row per school (20,000 rows
    instead of 300,000: the row-by-row fetch was most of an export's time); answers
    inside groups, fewer, come from a second query."""
    top = [f for f in form.fields if f.group is None]
    scope = _scope(round_id, district_id).subquery("s")
    cols: list[ColumnElement[Any]] = []
    for f in top:
        kind = _FIELD_KINDS.get(f.type, "text")
        cols.append(
            func.max(case((and_(Answer.field == f.code, Answer.item == 0), _value_column(kind))))
        )
    join_on = and_(
        Answer.submission_id == scope.c.id,
        Answer.revision == scope.c.current_revision,
        Answer.field.in_([f.code for f in top] or [""]),
    )
    pivot = (
        select(scope.c.id, scope.c.school_id, *cols)
        .select_from(scope)
        .outerjoin(Answer, join_on)
        .group_by(scope.c.id, scope.c.school_id)
        .subquery("p")
    )
    query = (
        select(pivot, School.stage)
        .join(School, School.id == pivot.c.school_id)
        .order_by(pivot.c.id)
    )
    grouped: dict[int, list[tuple[str, int, object]]] = {}
    if form.groups:
        codes = [g.code for g in form.groups] + [f.code for f in form.fields if f.group]
        async for r in latest_returns(session, round_id, district_id, fields=codes):
            grouped[r.submission_id] = r.rows
    await analytic(session)
    result = await session.stream(query.execution_options(yield_per=5000))
    async for partition in result.partitions(5000):
        for row in partition:
            sid, school_id, *values, stage = row
            raw = [(f.code, 0, v) for f, v in zip(top, values, strict=True) if v is not None]
            raw += grouped.get(sid, [])
            yield SchoolValues(sid, school_id, stage, from_rows(form, raw))


async def python_key_totals(
    session: AsyncSession, form: FormDef, round_id: int, district_id: int | None = None
) -> KeyTotals:
    """Key totals by the forms engine over the stored rows: the reference result."""
    per_district: dict[int, list[tuple[Any, Any]]] = {}
    async for r in latest_returns(session, round_id, district_id):
        answers = from_rows(form, r.rows)
        per_district.setdefault(r.district_id, []).append((answers, {"stage": r.stage}))
    everything = [x for subs in per_district.values() for x in subs]
    overall = aggregate_key_totals(form, everything)
    by_district = {
        d: {
            code: KeyTotalResult(
                code=k.code,
                label=k.label,
                aggregate=k.aggregate,
                value=k.value,
                schools=k.schools,
                unit=k.unit,
                numerator=k.numerator,
                denominator=k.denominator,
            )
            for code, k in aggregate_key_totals(form, subs).items()
        }
        for d, subs in per_district.items()
    }
    return KeyTotals(overall, by_district, in_sql=False)


async def key_totals(
    session: AsyncSession, form: FormDef, round_id: int, district_id: int | None = None
) -> KeyTotals:
    """The round's key totals, overall, by district and by the key total's `by`."""
    try:
        return await sql_key_totals(session, form, round_id, district_id)
    except Unsupported:
        return await python_key_totals(session, form, round_id, district_id)
