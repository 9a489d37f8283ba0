"""Flagged values: figures a summary asks staff to look at twice.

A school's figure is flagged when, compared with its return to the same form in the
previous round (the previous period):
  * it changed by more than a share (default 50 %) of the previous figure, e.g. 48
    authorized posts last year and 120 this year (a typo, or a merger to confirm); or
  * it has not changed for N periods in a row (default 4, this one included), e.g.
    the same number of substitute teachers four years running: probably copied.
Only numeric top-level fields are compared (group items have no stable identity
across periods), and a previous figure of 0 is not compared by share, nor are figures
that stay at 0 (a small school with no famous teacher is not suspicious).

Both checks are SQL self-joins over the latest revisions, returning only the flagged
rows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.followup.completeness import analytic
from models.forms import FormDef
from models.roster.order import school_key
from models.roster.tables import District, School
from models.rounds import Answer, Round, Submission

DEFAULT_CHANGE_PERCENT = 50
DEFAULT_UNCHANGED_PERIODS = 4


class FlagKind(enum.StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Flag:
    kind: FlagKind
    school_id: int
    school_code: str
    school_name: str
    district: str
    field: str
    value: Decimal
    previous: Decimal
    """The previous period's figure (for UNCHANGED: the same as value)."""
    periods: int
    """CHANGED: 2 (this period and the one before); UNCHANGED: how many periods."""

    @property
    def change_percent(self) -> Decimal | None:
        if self.previous == 0:
            return None
        return ((self.value - self.previous) * 100 / abs(self.previous)).quantize(Decimal(1))


def numeric_fields(form: FormDef) -> list[str]:
    return [f.code for f in form.fields if f.group is None and f.type in ("integer", "decimal")]


async def previous_rounds(session: AsyncSession, rnd: Round, count: int) -> list[int]:
    """The rounds of the same form before this one, latest first."""
    rows = await session.scalars(
        select(Round.id)
        .where(
            Round.form_code == rnd.form_code,
            Round.id != rnd.id,
            Round.deadline < rnd.deadline,
        )
        .order_by(Round.deadline.desc(), Round.id.desc())
        .limit(count)
    )
    return list(rows)


def _values(round_ids: list[int], codes: list[str], district_id: int | None) -> Any:
    value = func.coalesce(cast(Answer.value_int, Numeric(20, 4)), Answer.value_dec)
    q = (
        select(
            Submission.round_id.label("round_id"),
            Submission.school_id.label("school_id"),
            Answer.field.label("field"),
            value.label("v"),
        )
        .join(
            Answer,
            and_(
                Answer.submission_id == Submission.id,
                Answer.revision == Submission.current_revision,
            ),
        )
        .where(
            Submission.round_id.in_(round_ids),
            Submission.current_revision > 0,
            Answer.item == 0,
            Answer.field.in_(codes),
        )
    )
    if district_id is not None:
        q = q.join(School, School.id == Submission.school_id).where(
            School.district_id == district_id
        )
    return q


# (kind, school id, field, value, previous, periods) of a flag before the school is known.
_RawFlag = tuple[FlagKind, int, str, Decimal, Decimal, int]


async def flagged_values(
    session: AsyncSession, rnd: Round, form: FormDef, *, district_id: int | None = None,
    change_percent: int = DEFAULT_CHANGE_PERCENT,
    unchanged_periods: int = DEFAULT_UNCHANGED_PERIODS,
) -> list[Flag]:
    """Flagged figures of the round's latest revisions, by district, school, field."""
    codes = numeric_fields(form)
    if not codes:
        return []
    before = await previous_rounds(session, rnd, max(1, unchanged_periods - 1))
    if not before:
        return []
    await analytic(session)
    raw = await _changed(session, rnd, before[0], codes, district_id, change_percent)
    if unchanged_periods >= 2 and len(before) >= unchanged_periods - 1:
        window = [rnd.id, *before[: unchanged_periods - 1]]
        raw += await _unchanged(session, window, codes, district_id, unchanged_periods)
    if not raw:
        return []
    schools = await _schools(session, sorted({r[1] for r in raw}))
    order = {code: i for i, code in enumerate(codes)}
    flags = [
        Flag(kind, sid, *schools[sid][:2], schools[sid][2], code, v, p, n)
        for kind, sid, code, v, p, n in raw
    ]
    flags.sort(
        key=lambda f: (
            school_key(f.district, f.school_name, f.school_code), order[f.field], f.kind.value
        )
    )
    return flags


async def _changed(
    session: AsyncSession,
    rnd: Round,
    previous: int,
    codes: list[str],
    district_id: int | None,
    change_percent: int,
) -> list[_RawFlag]:
    """Figures that moved by more than change_percent since the previous round."""
    cur = _values([rnd.id], codes, district_id).subquery("cur")
    prev = _values([previous], codes, None).subquery("prev")
    share = Decimal(change_percent) / 100
    changed = (
        select(cur.c.school_id, cur.c.field, cur.c.v, prev.c.v)
        .join(prev, and_(prev.c.school_id == cur.c.school_id, prev.c.field == cur.c.field))
        .where(prev.c.v != 0, func.abs(cur.c.v - prev.c.v) > share * func.abs(prev.c.v))
    )
    return [
        (FlagKind.CHANGED, school_id, code, _dec(v), _dec(p), 2)
        for school_id, code, v, p in (await session.execute(changed)).all()
    ]


async def _unchanged(
    session: AsyncSession,
    window: list[int],
    codes: list[str],
    district_id: int | None,
    periods: int,
) -> list[_RawFlag]:
    """Non-zero figures that stayed the same in every round of the window."""
    vals = _values(window, codes, district_id).subquery("vals")
    same = (
        select(vals.c.school_id, vals.c.field, func.min(vals.c.v))
        .group_by(vals.c.school_id, vals.c.field)
        .having(
            func.count() == periods,
            func.min(vals.c.v) == func.max(vals.c.v),
            func.min(vals.c.v) != 0,
        )
    )
    return [
        (FlagKind.UNCHANGED, school_id, code, _dec(v), _dec(v), periods)
        for school_id, code, v in (await session.execute(same)).all()
    ]


async def _schools(session: AsyncSession, ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """Code, name and district name of each school."""
    schools: dict[int, tuple[str, str, str]] = {}
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(School.id, School.code, School.name, District.name)
            .join(District, District.id == School.district_id)
            .where(School.id.in_(ids[start : start + 500]))
        )
        schools.update({sid: (code, name, d) for sid, code, name, d in rows.all()})
    return schools


def _dec(v: object) -> Decimal:
    if isinstance(v, Decimal):
        # 48.0000 from NUMERIC(20, 4) reads as 48; 12.5000 as 12.5.
        return v.to_integral_value() if v == v.to_integral_value() else v.normalize()
    if isinstance(v, float):
        return Decimal(repr(v))
    return Decimal(str(v))
