"""Completeness counts by status and district, as at a controlled time."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.followup.completeness import (
    Counts,
    Status,
    round_completeness,
    rounds_overview,
    school_statuses,
)
from models.roster.tables import Role
from models.rounds import RoundStatus
from tests.status.factories import Factory, at, real_form, staffing_answers


async def _world(session: AsyncSession) -> dict[str, object]:
    """Two districts; a round due on the 20th at 18:00 with 60 minutes' grace.

    East: A on time, B within the grace (on time), C late, D draft, E nothing.
    West: F on time, G not started (submission row without answers), H never opened.
    """
    f = Factory(session)
    form = real_form("staffing")
    east = await f.district("东城学区")
    west = await f.district("西城学区")
    a, b, c, d, e = [await f.school(east, f"东{i}小") for i in "ABCDE"]
    f_, g, h = [await f.school(west, f"西{i}小") for i in "FGH"]
    await f.person(Role.PRINCIPAL, "王校长", school=d)
    await f.person(Role.DEPUTY, "李副校长", school=d, reachable=False)
    await f.person(Role.PRINCIPAL, "赵校长", school=e)
    rnd = await f.round(form, [a, b, c, d, e, f_, g, h], deadline=at(20, 18), grace_minutes=60)
    ans = staffing_answers()
    await f.submit(rnd, a, form, ans, at(18))
    await f.submit(rnd, b, form, ans, at(20, 18, 59))
    await f.submit(rnd, c, form, ans, at(21, 9))
    await f.draft(rnd, d, form, {("authorized_posts", 0): 40}, at(19))
    await f.submit(rnd, f_, form, ans, at(17))
    await f._submission(rnd, g)
    return {"round": rnd, "east": east, "west": west}


async def test_counts_by_status_and_district(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        w = await _world(session)
    rnd, east, west = w["round"], w["east"], w["west"]
    async with sessionmaker() as session:
        c = await round_completeness(session, rnd.id, now=at(22))  # type: ignore[attr-defined]
    assert c.total == Counts(expected=8, on_time=3, late=1, in_progress=1, not_started=3)
    assert c.total.reporting_rate == Decimal("50.0")
    assert c.total.on_time_rate == Decimal("37.5")
    by_name = {d.name: d.counts for d in c.districts}
    assert by_name == {
        "东城学区": Counts(5, 2, 1, 1, 1),
        "西城学区": Counts(3, 1, 0, 0, 2),
    }
    assert c.overdue
    # A district officer's view holds only their district.
    async with sessionmaker() as session:
        only = await round_completeness(
            session,
            rnd.id,  # type: ignore[attr-defined]
            district_id=west.id,  # type: ignore[attr-defined]
            now=at(22),
        )
    assert [d.name for d in only.districts] == ["西城学区"]
    assert only.total == Counts(3, 1, 0, 0, 2)
    assert east.id != west.id  # type: ignore[attr-defined]


async def test_as_at_an_earlier_time(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        w = await _world(session)
    async with sessionmaker() as session:
        c = await round_completeness(session, w["round"].id, now=at(19, 12))  # type: ignore[attr-defined]
    # On the 19th only A and F had submitted; B and C, who submitted later, were in
    # progress then, like D with its draft.
    assert c.total.on_time == 2
    assert c.total.late == 0
    assert c.total.in_progress == 3  # B, C (submitted later) and D (draft)
    assert c.total.not_started == 3
    assert not c.overdue


async def test_missing_schools_with_principals(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        w = await _world(session)
    async with sessionmaker() as session:
        missing = await school_statuses(
            session,
            w["round"].id,  # type: ignore[attr-defined]
            district_id=w["east"].id,  # type: ignore[attr-defined]
            now=at(22),
            only_missing=True,
        )
    assert [(s.name, s.status) for s in missing] == [
        ("东D小", Status.IN_PROGRESS),
        ("东E小", Status.NOT_STARTED),
    ]
    d = missing[0]
    assert d.principal_names == ["王校长"]
    assert [(c.name, c.role, c.reachable) for c in d.contacts] == [
        ("王校长", Role.PRINCIPAL, True),
        ("李副校长", Role.DEPUTY, False),
    ]


async def test_round_list_open_first_with_rates(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        w = await _world(session)
        f = Factory(session)
        form = real_form("staffing")
        old = await f.round(form, [], deadline=at(1), period="2025", status=RoundStatus.CLOSED)
    async with sessionmaker() as session:
        overview = await rounds_overview(session, now=at(22))
        west = await rounds_overview(session, district_id=w["west"].id, now=at(22))  # type: ignore[attr-defined]
    assert [o.round.id for o in overview] == [w["round"].id, old.id]  # type: ignore[attr-defined]
    assert overview[0].counts.reporting_rate == Decimal("50.0")
    assert overview[1].counts == Counts()
    assert overview[1].counts.reporting_rate is None
    assert west[0].counts == Counts(3, 1, 0, 0, 2)
