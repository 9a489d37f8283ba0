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

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, null, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import Subquery

from models.followup.batches import Districts, in_districts
from models.followup.completeness import analytic
from models.followup.expression_sql import (
    FIELD_KINDS,
    Compiler,
    Needs,
    Number,
    Sql,
    Unsupported,
    to_number,
    value_column,
)
from models.forms import (
    ITEM_COUNT,
    Answers,
    FormDef,
    FormError,
    FormRegistry,
    KeyTotalDef,
    KeyTotalResult,
    aggregate_key_totals,
    from_rows,
)
from models.forms.engine import key_total_value
from models.forms.expr import Attr
from models.forms.expr_values import DECIMAL_CONTEXT
from models.roster.tables import School
from models.rounds import Answer, Round, RoundSchool, Submission
from models.rounds.tables import submission_of_expected
from models.rounds.versions import round_form as stored_form

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


def _result(kt: KeyTotalDef, overall: _Acc, buckets: dict[str, _Acc]) -> KeyTotalResult:
    ratio = kt.aggregate == "ratio"
    has = overall.schools > 0
    return KeyTotalResult(
        code=kt.code,
        label=kt.label,
        aggregate=kt.aggregate,
        value=key_total_value(kt, overall.num, overall.den) if has else None,
        schools=overall.schools,
        by={k: key_total_value(kt, b.num, b.den) for k, b in sorted(buckets.items())},
        unit=kt.unit,
        numerator=overall.num if has else None,
        denominator=overall.den if has and ratio else None,
    )


# --- the query -------------------------------------------------------------------------


def _scope(round_id: int, district_id: Districts, submission_id: int | None = None) -> Any:
    """Latest submitted revisions of the round's expected schools (optionally one
    district's, or one submission's): one row per submission."""
    q = (
        select(Submission.id, Submission.school_id, Submission.current_revision)
        .join(RoundSchool, submission_of_expected())
        .where(Submission.round_id == round_id, Submission.current_revision > 0)
    )
    if district_id is not None:
        # A subquery rather than a join: SQLite then reads the district's schools by
        # their index and their submissions by (round, school), instead of every
        # submission of the round once per district batch (models.followup.batches).
        q = q.where(Submission.school_id.in_(select(School.id).where(in_districts(district_id))))
    if submission_id is not None:
        q = q.where(Submission.id == submission_id)
    return q


# One key total's SQL: the summed value, and the denominator for a ratio.
_Parts = list[tuple[Sql, Sql | None]]


def _refs(c: Compiler, totals: Sequence[KeyTotalDef]) -> _Parts:
    out: _Parts = []
    for kt in totals:
        if kt.aggregate == "sum":
            out.append((_ref(c, kt.of), None))
        else:
            out.append((_ref(c, kt.numerator), _ref(c, kt.denominator)))
    return out


def _school_context(name: str) -> ColumnElement[Any]:
    # The only context the bureau knows of a school is its stage.
    return School.stage.expression if name == "stage" else null()


def _aggregates(parts: _Parts) -> list[ColumnElement[Any]]:
    """Per key total: sum and count (sum), or sum, sum and count of the complete pairs."""
    columns: list[ColumnElement[Any]] = []
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
    return columns


@dataclass(frozen=True)
class Grouped:
    """The key totals' grouped rows: (district, *by values, *aggregates) per row."""

    totals: Sequence[KeyTotalDef]
    parts: _Parts
    by_names: list[str]
    rows: Sequence[Row[Any]]


async def grouped_key_totals(
    session: AsyncSession,
    form: FormDef,
    round_id: int,
    district_id: int | None = None,
    submission_id: int | None = None,
) -> Grouped:
    """The key totals' GROUP BY (district, by values); Unsupported if the form needs the
    Python path. With submission_id, that one school's share (the tallies' delta)."""
    totals = form.key_totals
    await analytic(session)
    dialect = session.get_bind().dialect.name
    needs = Needs()
    by_names = sorted({kt.by for kt in totals if kt.by})
    # A dry run learns which answers the expressions need, for the pivot.
    dry = Compiler(form, dialect, needs, None, lambda _n: null())
    _refs(dry, totals)
    for b in by_names:
        dry.name(b)
    pivot = _pivot(needs, _scope(round_id, district_id, submission_id).subquery("s"))
    comp = Compiler(form, dialect, needs, pivot, _school_context)
    parts = _refs(comp, totals)
    by_exprs = [comp.name(b).expr for b in by_names]
    query = (
        select(School.district_id.expression, *by_exprs, *_aggregates(parts))
        .select_from(pivot)
        .join(School, School.id == pivot.c.school_id)
        .group_by(School.district_id, *by_exprs)
    )
    rows = (await session.execute(query)).all()
    return Grouped(totals, parts, by_names, rows)


async def sql_key_totals(
    session: AsyncSession, form: FormDef, round_id: int, district_id: int | None = None
) -> KeyTotals:
    """Key totals in one SQL statement; Unsupported if the form needs the Python path."""
    if not form.key_totals:
        return KeyTotals({})
    g = await grouped_key_totals(session, form, round_id, district_id)
    return _fold(g.totals, g.parts, g.by_names, g.rows)


def shares(g: Grouped) -> Iterator[tuple[int, str, str | None, tuple[Number, Number, int]]]:
    """Each grouped row's (district, key total code, `by` value, (sum, denominator,
    schools)), as _fold adds them up: the unit the tallies keep."""
    for row in g.rows:
        by_values = dict(zip(g.by_names, row[1 : 1 + len(g.by_names)], strict=True))
        pos = 1 + len(g.by_names)
        for kt, (num, den) in zip(g.totals, g.parts, strict=True):
            width = 2 if den is None else 3
            found = _sums(row[pos : pos + width], num, den)
            pos += width
            if found is None:
                continue
            key = by_values.get(kt.by) if kt.by else None
            yield row[0], kt.code, key if isinstance(key, str) else None, found


def from_sums(
    totals: Sequence[KeyTotalDef],
    sums: Iterable[tuple[int, str, str | None, tuple[Number, Number, int]]],
    present: Iterable[int],
) -> KeyTotals:
    """Key totals from kept shares (district, code, `by` value or None for the
    district's own total, sums): what the tallies read back. `present`: the districts
    with a submitted school, listed even when none has a value (as _fold does)."""
    index = {kt.code: i for i, kt in enumerate(totals)}
    overall = [_Acc() for _ in totals]
    districts: dict[int, list[_Acc]] = {d: [_Acc() for _ in totals] for d in present}
    buckets: list[dict[str, _Acc]] = [{} for _ in totals]
    for district, code, key, (num, den, schools) in sums:
        i = index.get(code)
        if i is None or not schools:
            continue
        if key is None:
            overall[i].add(num, den, schools)
            districts.setdefault(district, [_Acc() for _ in totals])[i].add(num, den, schools)
        else:
            buckets[i].setdefault(key, _Acc()).add(num, den, schools)
    result = {kt.code: _result(kt, overall[i], buckets[i]) for i, kt in enumerate(totals)}
    per_district = {
        d: {kt.code: _result(kt, accs[i], {}) for i, kt in enumerate(totals)}
        for d, accs in districts.items()
    }
    return KeyTotals(result, per_district, in_sql=True)


def _fold(
    totals: Sequence[KeyTotalDef], parts: _Parts, by_names: list[str], rows: Sequence[Row[Any]]
) -> KeyTotals:
    """Add up the grouped rows: overall, per district and per value of each `by`."""
    overall = [_Acc() for _ in totals]
    districts: dict[int, list[_Acc]] = {}
    buckets: list[dict[str, _Acc]] = [{} for _ in totals]
    for row in rows:
        by_values = dict(zip(by_names, row[1 : 1 + len(by_names)], strict=True))
        accs = districts.setdefault(row[0], [_Acc() for _ in totals])
        pos = 1 + len(by_names)
        for i, (kt, (num, den)) in enumerate(zip(totals, parts, strict=True)):
            width = 2 if den is None else 3
            found = _sums(row[pos : pos + width], num, den)
            pos += width
            if found is None:
                continue
            overall[i].add(*found)
            accs[i].add(*found)
            key = by_values.get(kt.by) if kt.by else None
            if isinstance(key, str):
                buckets[i].setdefault(key, _Acc()).add(*found)
    result = {kt.code: _result(kt, overall[i], buckets[i]) for i, kt in enumerate(totals)}
    per_district = {
        d: {kt.code: _result(kt, accs[i], {}) for i, kt in enumerate(totals)}
        for d, accs in districts.items()
    }
    return KeyTotals(result, per_district, in_sql=True)


def _sums(values: Sequence[Any], num: Sql, den: Sql | None) -> tuple[Number, Number, int] | None:
    """(sum, denominator, schools) of one key total in one row; None if no school."""
    if den is None:
        s, n = values
        d_val: Number = 0
    else:
        s, d_raw, n = values
        d_val = to_number(d_raw, den.kind) if d_raw is not None else 0
    if not n:
        return None
    return to_number(s, num.kind), d_val, n


def _ref(c: Compiler, ref: str | None) -> Sql:
    assert ref is not None
    if "." in ref:
        group, fcode = ref.split(".", 1)
        return c.group_agg("sum", Attr(group, fcode))
    value = c.name(ref)
    if not value.numeric:
        raise Unsupported(f"key total of a non-number {ref}")
    return value


def _pivot(needs: Needs, scope: Subquery) -> Subquery:
    """One row per submission of `scope` with the needed answers as columns."""
    cols: list[ColumnElement[Any]] = []
    codes: set[str] = set()
    for code, kind in needs.fields.items():
        codes.add(code)
        value = value_column(kind)
        cols.append(
            func.max(case((and_(Answer.field == code, Answer.item == 0), value))).label(f"f_{code}")
        )
    for (agg, code), kind in needs.group_aggs.items():
        codes.add(code)
        value = value_column(kind)
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
    district_id: Districts = None,
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
    session: AsyncSession, form: FormDef, round_id: int, district_id: Districts = None
) -> AsyncIterator[SchoolValues]:
    """Each submitted school's answers, ordered by submission.

    The database pivots the top-level answers into one row per school (20,000 rows
    instead of 300,000: the row-by-row fetch was most of an export's time); answers
    inside groups, fewer, come from a second query."""
    top = [f for f in form.fields if f.group is None]
    scope = _scope(round_id, district_id).subquery("s")
    cols: list[ColumnElement[Any]] = []
    for f in top:
        kind = FIELD_KINDS.get(f.type, "text")
        cols.append(
            func.max(case((and_(Answer.field == f.code, Answer.item == 0), value_column(kind))))
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
    # A district's totals carry no breakdown by `by`, as the SQL ones (the overall do).
    by_district = {
        d: {code: replace(k, by={}) for code, k in aggregate_key_totals(form, subs).items()}
        for d, subs in per_district.items()
    }
    return KeyTotals(overall, by_district, in_sql=False)


async def key_totals(
    session: AsyncSession, form: FormDef, round_id: int, district_id: int | None = None
) -> KeyTotals:
    """The round's key totals, overall, by district and by the key total's `by`: from
    the round's tallies when they keep them, else added up from the answers."""
    # Imported here: the tallies' reader builds this module's KeyTotals.
    from models.followup.tallied import key_totals as tallied_key_totals

    kept = await tallied_key_totals(session, form, round_id, district_id)
    if kept is not None:
        return kept
    try:
        return await sql_key_totals(session, form, round_id, district_id)
    except Unsupported:
        return await python_key_totals(session, form, round_id, district_id)
