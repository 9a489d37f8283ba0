"""A round's life: opened for a form and period, extended, closed; one school unlocked.

    open_round(session, *, form, period, deadline, grace_minutes=0, lock_at=None,
               districts=None, stages=None, school_codes=None, created_by=None, now)
        -> Round. Stores the form version and fixes the expected schools: the active
        schools matching every filter given (districts by id or name, stage codes,
        school codes). The period is stored as canonical_period gives it (a term as
        2026-autumn, as schedules label it). One round per form code and period: a
        second is refused (DuplicateRound, naming the first), also when both are opened
        at the same moment (the unique index uq_rounds_form_code_period decides).
    existing_round(session, form_code, period) -> Round | None
    close_round(session, round, *, by=None, now) -> None      (ends entry for all)
    extend_round(session, round, deadline, *, lock_at=None, by=None, now) -> None
        A new deadline (reopens a closed round); lock_at is replaced by the argument.
    recent_rounds(session, now, limit) -> list[Round]     (open ones first)
    unlock_school(session, round, school_id, *, by, now, hours=72) -> RoundSchool
        Let one school submit once more (the unlock ends at its next submission or
        after `hours`); audit-logged.
    expected_school_ids(session, round_id) -> list[int]
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.forms import FormDef
from models.roster.tables import District, School, Stage
from models.rounds.errors import DuplicateRound, RoundError
from models.rounds.inserts import insert_for
from models.rounds.locks import accepting
from models.rounds.periods import canonical_period
from models.rounds.tables import Round, RoundSchool, RoundStatus
from models.rounds.tallies import recount_statuses
from models.rounds.versions import store_form_version

DEFAULT_UNLOCK_HOURS = 72
MAX_PERIOD_LENGTH = 40

Audience = dict[str, list[Any]]
"""How the expected schools were chosen, for display: {"districts": [...], ...}."""


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None:
        raise RoundError(f"{name} must carry a time zone")


def _check_lock(lock_at: datetime | None, deadline: datetime, grace_minutes: int) -> None:
    if lock_at is not None:
        _aware(lock_at, "the lock time")
        if lock_at < deadline + timedelta(minutes=grace_minutes):
            raise RoundError("the lock time is before the deadline and its grace")


def _checked_period(period: str) -> str:
    period = canonical_period(period)
    if not period:
        raise RoundError("the period is empty")
    if len(period) > MAX_PERIOD_LENGTH:
        raise RoundError(f"the period is longer than {MAX_PERIOD_LENGTH} characters")
    return period


def _check_times(
    deadline: datetime, grace_minutes: int, lock_at: datetime | None, now: datetime
) -> None:
    _aware(deadline, "the deadline")
    if deadline <= now:
        raise RoundError("the deadline has already passed")
    if grace_minutes < 0:
        raise RoundError("the grace cannot be negative")
    _check_lock(lock_at, deadline, grace_minutes)


async def _district_ids(session: AsyncSession, districts: Collection[int | str]) -> list[int]:
    ids: list[int] = []
    rows = (await session.execute(select(District.id, District.name))).all()
    by_name = {name: id_ for id_, name in rows}
    known = set(by_name.values())
    for d in districts:
        if isinstance(d, int) and d in known:
            ids.append(d)
        elif isinstance(d, str) and d in by_name:
            ids.append(by_name[d])
        elif isinstance(d, str) and d.isdigit() and int(d) in known:
            ids.append(int(d))
        else:
            raise RoundError(f"unknown district {d!r}")
    return ids


async def _known_codes(session: AsyncSession, school_codes: Collection[str]) -> list[str]:
    codes = list(school_codes)
    found = set(
        (await session.execute(select(School.code).where(School.code.in_(codes)))).scalars()
    )
    missing = [c for c in codes if c not in found]
    if missing:
        raise RoundError(f"unknown school {missing[0]!r}")
    return codes


async def _expected_schools(
    session: AsyncSession,
    districts: Collection[int | str] | None,
    stages: Collection[str] | None,
    school_codes: Collection[str] | None,
) -> tuple[list[int], Audience]:
    """The active schools matching every filter given, and the filters for display."""
    unknown = [s for s in stages or () if s not in {m.value for m in Stage}]
    if unknown:
        raise RoundError(f"unknown stage {unknown[0]!r}")
    query = select(School.id).where(School.active.is_(True))
    audience: Audience = {}
    if districts:
        ids = await _district_ids(session, districts)
        query = query.where(School.district_id.in_(ids))
        names = (await session.execute(select(District.name).where(District.id.in_(ids)))).scalars()
        audience["districts"] = sorted(names)
    if stages:
        query = query.where(School.stage.in_(list(stages)))
        audience["stages"] = sorted(stages)
    if school_codes:
        codes = await _known_codes(session, school_codes)
        query = query.where(School.code.in_(codes))
        audience["schools"] = sorted(codes)
    school_ids = list((await session.execute(query.order_by(School.id))).scalars())
    if not school_ids:
        raise RoundError("no active school matches the audience")
    return school_ids, audience


async def existing_round(session: AsyncSession, form_code: str, period: str) -> Round | None:
    """The round that already collects this form for this period, if any. Periods are
    compared by their stored label (canonical_period), so "2026 秋季学期" typed in chat
    finds the schedule's "2026-autumn"; rounds stored under an older spelling of the
    same term are found too."""
    wanted = canonical_period(period)
    rounds = (
        await session.execute(
            select(Round).where(Round.form_code == form_code).order_by(Round.id)
        )
    ).scalars()
    for round_ in rounds:
        if canonical_period(round_.period) == wanted:
            return round_
    return None


async def open_round(
    session: AsyncSession,
    *,
    form: FormDef,
    period: str,
    deadline: datetime,
    grace_minutes: int = 0,
    lock_at: datetime | None = None,
    districts: Collection[int | str] | None = None,
    stages: Collection[str] | None = None,
    school_codes: Collection[str] | None = None,
    created_by: int | None = None,
    now: datetime,
    source: str | None = None,
) -> Round:
    period = _checked_period(period)
    _check_times(deadline, grace_minutes, lock_at, now)
    duplicate = await existing_round(session, form.code, period)
    if duplicate is not None:
        raise _duplicate(duplicate)
    school_ids, audience = await _expected_schools(session, districts, stages, school_codes)
    await store_form_version(session, form, source)
    round_ = await _insert_round(
        session,
        form_code=form.code,
        form_version=form.version,
        period=period,
        opened_at=now,
        deadline=deadline,
        grace_minutes=grace_minutes,
        lock_at=lock_at,
        status=RoundStatus.OPEN.value,
        closed_at=None,
        audience=json.dumps(audience, ensure_ascii=False, sort_keys=True),
        created_by=created_by,
    )
    session.add_all(RoundSchool(round_id=round_.id, school_id=sid) for sid in school_ids)
    _record_open(session, round_, form, deadline, len(school_ids), audience)
    await session.flush()
    return round_


def _record_open(
    session: AsyncSession,
    round_: Round,
    form: FormDef,
    deadline: datetime,
    schools: int,
    audience: Audience,
) -> None:
    # The audience's own "schools" (the codes given) must not clash with the count.
    chosen: dict[str, Any] = {
        ("school_codes" if key == "schools" else key): value for key, value in audience.items()
    }
    record(session, "round.open", round_.id, actor_id=round_.created_by, form=form.code,
           version=form.version, period=round_.period, deadline=deadline.isoformat(),
           schools=schools, **chosen)


def _duplicate(found: Round) -> DuplicateRound:
    return DuplicateRound(
        f"round {found.id} already collects {found.form_code} for {found.period}; "
        f"extend or reopen it instead",
        found.id,
    )


async def _insert_round(session: AsyncSession, **values: Any) -> Round:
    """Insert the round unless one for its form code and period exists (the unique
    index uq_rounds_form_code_period): then DuplicateRound, as the check above says it.

    The check alone lets two opens at the same moment both through (both look before
    either writes). Insert-or-ignore rather than catching an IntegrityError, because on
    PostgreSQL an error aborts the caller's whole transaction, and the refusal needs to
    read the round that won; on PostgreSQL the insert waits for the other transaction
    and sees its round once it commits."""
    connection = await session.connection()
    statement = (
        insert_for(connection.dialect.name)(cast(Table, Round.__table__))
        .values(**values)
        .on_conflict_do_nothing(index_elements=["form_code", "period"])
        .returning(cast(Table, Round.__table__).c.id)
    )
    new_id = (await connection.execute(statement)).scalar_one_or_none()
    if new_id is None:
        found = await existing_round(session, values["form_code"], values["period"])
        if found is None:  # pragma: no cover - the winner's round is committed by now
            raise RoundError(f"a round for {values['form_code']} was opened at the same moment")
        raise _duplicate(found)
    return await session.get_one(Round, new_id)


async def close_round(
    session: AsyncSession, round_: Round, *, by: int | None = None, now: datetime
) -> None:
    if round_.status == RoundStatus.CLOSED.value:
        raise RoundError(f"round {round_.id} is already closed")
    round_.status = RoundStatus.CLOSED.value
    round_.closed_at = now
    record(session, "round.close", round_.id, actor_id=by)


async def extend_round(
    session: AsyncSession, round_: Round, deadline: datetime, *,
    lock_at: datetime | None = None, by: int | None = None, now: datetime,
) -> None:
    _aware(deadline, "the deadline")
    if deadline <= now:
        raise RoundError("the new deadline has already passed")
    _check_lock(lock_at, deadline, round_.grace_minutes)
    old = round_.deadline
    round_.deadline = deadline
    round_.lock_at = lock_at
    reopened = round_.status == RoundStatus.CLOSED.value
    round_.status = RoundStatus.OPEN.value
    round_.closed_at = None
    await recount_statuses(session, round_, now)  # on time and late, by the new deadline
    record(
        session, "round.extend", round_.id, actor_id=by,
        old=old.isoformat(),
        new=deadline.isoformat(),
        reopened=reopened,
    )


async def recent_rounds(session: AsyncSession, now: datetime, limit: int) -> list[Round]:
    """Up to `limit` rounds for a list: those open for entry first (soonest deadline
    first), then the others (latest deadline first). Past its lock a round counts as
    closed, whether or not staff closed it."""
    # A round without lock_at closes when its grace ends; the longest grace of such rounds
    # bounds how long ago a deadline can be for a round still open, so the database can
    # narrow the candidates and Python decides exactly (the grace is per round).
    longest = (
        await session.execute(
            select(func.max(Round.grace_minutes)).where(
                Round.status == RoundStatus.OPEN.value, Round.lock_at.is_(None)
            )
        )
    ).scalar_one_or_none() or 0
    maybe_open = and_(
        Round.status == RoundStatus.OPEN.value,
        # Written so that no part is NULL, so that its negation is exact too.
        or_(
            and_(Round.lock_at.is_not(None), Round.lock_at > now),
            and_(Round.lock_at.is_(None), Round.deadline > now - timedelta(minutes=longest)),
        ),
    )
    query = select(Round).where(maybe_open).order_by(Round.deadline, Round.id)
    candidates = list((await session.execute(query)).scalars())
    opened = [r for r in candidates if accepting(r, now)][:limit]
    ended = [r for r in candidates if not accepting(r, now)]
    if len(opened) < limit:
        ended += (
            await session.execute(
                select(Round)
                .where(~maybe_open)
                .order_by(Round.deadline.desc(), Round.id.desc())
                .limit(limit - len(opened))
            )
        ).scalars()
        ended.sort(key=lambda r: (r.deadline, r.id), reverse=True)
        return opened + ended[: limit - len(opened)]
    return opened


async def get_round_school(
    session: AsyncSession, round_id: int, school_id: int
) -> RoundSchool | None:
    return await session.get(RoundSchool, (round_id, school_id))


async def unlock_school(
    session: AsyncSession,
    round_: Round,
    school_id: int,
    *,
    by: int | None,
    now: datetime,
    hours: int = DEFAULT_UNLOCK_HOURS,
) -> RoundSchool:
    rs = await get_round_school(session, round_.id, school_id)
    if rs is None:
        school = await session.get(School, school_id)
        name = f"{school.code} {school.name}" if school is not None else f"#{school_id}"
        raise RoundError(f"school {name} is not expected in round {round_.id}")
    rs.unlocked_until = now + timedelta(hours=hours)
    record(
        session, "round.unlock", round_.id, actor_id=by,
        school_id=school_id,
        until=rs.unlocked_until.isoformat(),
    )
    return rs


async def expected_school_ids(session: AsyncSession, round_id: int) -> list[int]:
    return list(
        (
            await session.execute(
                select(RoundSchool.school_id)
                .where(RoundSchool.round_id == round_id)
                .order_by(RoundSchool.school_id)
            )
        ).scalars()
    )
