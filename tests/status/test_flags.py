"""Flagged values: big changes from the previous period, figures frozen for 4 periods."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.followup.flags import FlagKind, flagged_values
from models.forms import Answers
from models.rounds import Round, RoundStatus
from tests.status.factories import Factory, at, real_form, staffing_answers


def _answers(offset: int) -> Answers:
    """A return whose every figure moves a little each year (nothing to flag)."""
    a = staffing_answers(
        authorized=40 + offset,
        payroll=38 + offset,
        degrees=(1 + offset, 18 + offset, 22 + offset, 2 + offset),
        substitutes=1 + offset,
    )
    a[("key_teachers", 0)] = 2 + offset
    a[("subject_leaders", 0)] = 1 + offset
    a[("rural_exchange", 0)] = offset
    return a


async def test_changed_and_unchanged_figures(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = real_form("staffing")
    async with sessionmaker() as session, session.begin():
        f = Factory(session)
        east = await f.district("东城学区")
        west = await f.district("西城学区")
        a = await f.school(east, "甲小学", code="A")
        b = await f.school(east, "乙小学", code="B")
        c = await f.school(west, "丙小学", code="C")
        rounds: list[Round] = []
        for i, year in enumerate(range(2022, 2027)):
            deadline = at(20) - timedelta(days=365 * (4 - i))
            status = RoundStatus.OPEN if year == 2026 else RoundStatus.CLOSED
            r = await f.round(form, [a, b, c], deadline, period=str(year), status=status)
            rounds.append(r)
            for school in (a, b, c):
                ans = _answers(i)
                if school is a and year == 2026:
                    ans[("authorized_posts", 0)] = 120  # 43 last year: +179 %
                if school is b and year >= 2023:
                    ans[("substitute_teachers", 0)] = 5  # four years the same
                if school is c and year == 2026:
                    ans[("on_payroll", 0)] = 20  # 41 last year: -51 %
                await f.submit(r, school, form, ans, deadline - timedelta(days=1))
    async with sessionmaker() as session:
        flags = await flagged_values(session, rounds[-1], form)
        east_only = await flagged_values(session, rounds[-1], form, district_id=east.id)
        three = await flagged_values(session, rounds[-1], form, unchanged_periods=5)
        first = await flagged_values(session, rounds[0], form)
    # Listed by district, then school name in reading order (乙 before 甲 by character).
    assert [fl.school_code for fl in flags] == ["B", "A", "C"]
    flags.sort(key=lambda fl: fl.school_code)
    got = [(fl.school_code, fl.field, fl.kind, fl.previous, fl.value) for fl in flags]
    assert got == [
        ("A", "authorized_posts", FlagKind.CHANGED, Decimal(43), Decimal(120)),
        ("B", "substitute_teachers", FlagKind.UNCHANGED, Decimal(5), Decimal(5)),
        ("C", "on_payroll", FlagKind.CHANGED, Decimal(41), Decimal(20)),
    ]
    assert flags[0].change_percent == Decimal(179)
    assert flags[2].change_percent == Decimal(-51)
    assert [fl.school_code for fl in east_only] == ["B", "A"]
    # Five periods in a row are not there: B's figure changed in 2022.
    assert [fl.kind for fl in three] == [FlagKind.CHANGED, FlagKind.CHANGED]
    assert first == []  # nothing to compare the first period with
