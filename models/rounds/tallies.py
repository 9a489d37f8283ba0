"""A round's tallies: its completeness and key-total counters, kept up to date.

Adding up a 200,000-school round at every /status costs seconds (every answer row of
every school, joined and pivoted). The tallies are those sums kept per round and per
district, changed in the same transaction as each submission: a school's share is
read before and after it submits and the difference added. Reading a round's figures
is then a read of a few hundred rows (models/followup/tallied.py).

What is kept, per (round, district):
  * "@expected", "@on_time", "@late": schools expected, and those first submitted by
    or after the cutoff (deadline + grace) the tallies were built with;
  * per key total: the sum, the denominator (ratios) and the schools counted, for the
    district ("" bucket) and per value of the key total's `by` ("by:<value>").
"In progress" is not kept: drafts come and go with every answer, and the drafts of a
round are few, so it is counted when read (a partial index holds unsubmitted ones).

When the tallies cannot be trusted they are not read: no state row (a round from
before migration 0019), another cutoff (the deadline moved), or `now` before the latest
first submission counted (a summary as at an earlier time). The next submission then
rebuilds them from the answers (`rebuild`), once, and goes on by differences.
Only a submission changes what is kept: discarding a revision under way, unlocking a
school or saving a draft answer changes neither the submitted revision nor the status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    case,
    delete,
    func,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.forms import FormDef
from models.roster.tables import School
from models.rounds.inserts import insert_for
from models.rounds.tables import Round, RoundSchool, Submission, submission_of_expected

EXPECTED, ON_TIME, LATE = "@expected", "@on_time", "@late"
Number = int | Decimal
Key = tuple[int, str, str]
"""(district, code, bucket): bucket "" is the district's own, "by:<value>" a `by` value."""
Share = dict[Key, tuple[Number, Number, int]]

# Schools that have not submitted: "in progress" is counted from these when read.
UNSUBMITTED = Index(
    "ix_submissions_unsubmitted",
    Submission.round_id,
    postgresql_where=Submission.first_submitted_at.is_(None),
    sqlite_where=Submission.first_submitted_at.is_(None),
)


class RoundTally(Base):
    """One counter of a round: a status count, or a key total's sums, in one district."""

    __tablename__ = "round_tallies"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(200), primary_key=True, default="")
    # Exact numbers as text (an int, or a Decimal's digits): SQLite has no exact decimal.
    num: Mapped[str] = mapped_column(Text, default="0")
    den: Mapped[str] = mapped_column(Text, default="0")
    schools: Mapped[int] = mapped_column(Integer, default=0)


class RoundTallyState(Base):
    """What a round's tallies were built with, so that a reader knows if they hold."""

    __tablename__ = "round_tally_states"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime())
    # The latest first submission counted: a count "as at" before it cannot use them.
    latest_first: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # False when the form's key totals need the Python path: only statuses are kept.
    key_totals: Mapped[bool] = mapped_column(Boolean, default=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())


def cutoff(round_: Round) -> datetime:
    return round_.deadline + timedelta(minutes=round_.grace_minutes or 0)


def to_text(n: Number) -> str:
    return str(n)


def to_number(text: str) -> Number:
    try:
        return int(text)
    except ValueError:
        return Decimal(text)


def _add(a: Number, b: Number) -> Number:
    if type(a) is int and type(b) is int:
        return a + b
    return Decimal(a) + Decimal(b)


def _merge(into: Share, key: Key, num: Number, den: Number, schools: int) -> None:
    n0, d0, s0 = into.get(key, (0, 0, 0))
    into[key] = (_add(n0, num), _add(d0, den), s0 + schools)


async def _key_total_share(
    session: AsyncSession, form: FormDef, round_id: int, submission_id: int | None
) -> Share | None:
    """The key totals' sums by (district, code, bucket); None if the form needs the
    Python path (then no key total is kept)."""
    # Imported here: models.followup reads the rounds, whose submit calls this module.
    from models.followup.expression_sql import Unsupported
    from models.followup.keytotals import grouped_key_totals, shares

    out: Share = {}
    if not form.key_totals:
        return out
    try:
        grouped = await grouped_key_totals(
            session, form, round_id, submission_id=submission_id
        )
    except Unsupported:
        return None
    for district, code, by, (num, den, schools) in shares(grouped):
        _merge(out, (district, code, ""), num, den, schools)
        if by is not None:
            _merge(out, (district, code, f"by:{by}"), num, den, schools)
    return out


async def _status_share(session: AsyncSession, round_: Round) -> tuple[Share, datetime | None]:
    """Schools expected, on time and late per district, and the latest first submission."""
    first = Submission.first_submitted_at
    edge = cutoff(round_)
    rows = await session.execute(
        select(
            School.district_id,
            func.count(),
            func.count(case((first <= edge, 1))),
            func.count(case((first > edge, 1))),
            func.max(first),
        )
        .select_from(RoundSchool)
        .join(School, School.id == RoundSchool.school_id)
        .outerjoin(Submission, submission_of_expected())
        .where(RoundSchool.round_id == round_.id)
        .group_by(School.district_id)
    )
    share: Share = {}
    latest: datetime | None = None
    for district, expected, on_time, late, last in rows.all():
        for code, n in ((EXPECTED, expected), (ON_TIME, on_time), (LATE, late)):
            if n:
                share[(district, code, "")] = (0, 0, n)
        if last is not None and (latest is None or last > latest):
            latest = last
    return share, latest


def _store(session: AsyncSession, round_id: int, share: Share) -> None:
    session.add_all(
        RoundTally(
            round_id=round_id, district_id=d, code=c, bucket=b,
            num=to_text(num), den=to_text(den), schools=n,
        )
        for (d, c, b), (num, den, n) in sorted(share.items())
    )


async def rebuild(
    session: AsyncSession, round_: Round, form: FormDef, now: datetime
) -> RoundTallyState:
    """The round's tallies afresh from its answers (its first submission after
    migration 0019, or after a school of it moved district)."""
    await session.execute(delete(RoundTally).where(RoundTally.round_id == round_.id))
    share, latest = await _status_share(session, round_)
    totals = await _key_total_share(session, form, round_.id, None)
    _store(session, round_.id, {**share, **(totals or {})})
    state = await session.get(RoundTallyState, round_.id)
    if state is None:
        state = RoundTallyState(round_id=round_.id)
        session.add(state)
    state.cutoff, state.latest_first = cutoff(round_), latest
    state.key_totals, state.built_at = totals is not None, now
    await session.flush()
    return state


async def recount_statuses(session: AsyncSession, round_: Round, now: datetime) -> None:
    """The deadline or grace moved: who is on time or late is counted again (one
    grouped query); the key totals do not depend on it and stay."""
    state = await session.get(RoundTallyState, round_.id)
    if state is None:
        return
    await session.execute(
        delete(RoundTally).where(
            RoundTally.round_id == round_.id, RoundTally.code.in_((EXPECTED, ON_TIME, LATE))
        )
    )
    share, latest = await _status_share(session, round_)
    _store(session, round_.id, share)
    state.cutoff, state.latest_first, state.built_at = cutoff(round_), latest, now
    await session.flush()


async def school_share(
    session: AsyncSession, round_: Round, form: FormDef, submission: Submission, key_totals: bool
) -> Share:
    """What one school adds to its round's tallies now: its status and its sums."""
    district = (
        await session.execute(
            select(School.district_id)
            .join(RoundSchool, RoundSchool.school_id == School.id)
            .where(RoundSchool.round_id == round_.id, School.id == submission.school_id)
        )
    ).scalar()
    out: Share = {}
    if district is None:  # not an expected school: counted nowhere
        return out
    first = submission.first_submitted_at
    if first is not None:
        out[(district, ON_TIME if first <= cutoff(round_) else LATE, "")] = (0, 0, 1)
    if key_totals and submission.current_revision > 0:
        out.update(await _key_total_share(session, form, round_.id, submission.id) or {})
    return out


def difference(after: Mapping[Key, tuple[Number, Number, int]], before: Share) -> Share:
    out: Share = {}
    for key in after.keys() | before.keys():
        n1, d1, s1 = after.get(key, (0, 0, 0))
        n0, d0, s0 = before.get(key, (0, 0, 0))
        delta = (_add(n1, -n0), _add(d1, -d0), s1 - s0)
        if any(delta):
            out[key] = delta
    return out


async def add(session: AsyncSession, round_id: int, delta: Share) -> None:
    """Add `delta` to the round's counters. Rows are locked in key order (PostgreSQL),
    so two schools of one district submitting together wait for each other in turn."""
    if not delta:
        return
    keys = sorted(delta)
    insert = insert_for(session.get_bind().dialect.name)
    await session.execute(
        insert(RoundTally)
        .values([
            {"round_id": round_id, "district_id": d, "code": c, "bucket": b,
             "num": "0", "den": "0", "schools": 0}
            for d, c, b in keys
        ])
        .on_conflict_do_nothing(index_elements=["round_id", "district_id", "code", "bucket"])
    )
    found = await session.execute(
        select(RoundTally)
        .where(
            RoundTally.round_id == round_id,
            tuple_(RoundTally.district_id, RoundTally.code, RoundTally.bucket).in_(keys),
        )
        .order_by(RoundTally.district_id, RoundTally.code, RoundTally.bucket)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    for row in found.scalars():
        num, den, schools = delta[(row.district_id, row.code, row.bucket)]
        row.num = to_text(_add(to_number(row.num), num))
        row.den = to_text(_add(to_number(row.den), den))
        row.schools += schools
    await session.flush()


class Tallying:
    """Around a submission: `before()` reads the school's share, `after()` adds the
    difference (or rebuilds the round's tallies when they do not hold)."""

    def __init__(
        self, session: AsyncSession, round_: Round, form: FormDef, submission: Submission
    ) -> None:
        self.session, self.round, self.form, self.submission = session, round_, form, submission
        self.state: RoundTallyState | None = None
        self.share: Share = {}

    async def before(self) -> None:
        self.state = await self.session.get(RoundTallyState, self.round.id)
        if self.state is not None and self.state.cutoff == cutoff(self.round):
            self.share = await school_share(
                self.session, self.round, self.form, self.submission, self.state.key_totals
            )
        else:
            self.state = None

    async def after(self, now: datetime) -> None:
        await self.session.flush()
        state = self.state
        if state is None:
            await rebuild(self.session, self.round, self.form, now)
            return
        share = await school_share(
            self.session, self.round, self.form, self.submission, state.key_totals
        )
        await add(self.session, self.round.id, difference(share, self.share))
        first = self.submission.first_submitted_at
        if first is not None and (state.latest_first is None or first > state.latest_first):
            state.latest_first = first
        await self.session.flush()


async def read(
    session: AsyncSession, round_id: int, district_id: int | None, codes: Iterable[str] | None
) -> list[tuple[int, str, str, Number, Number, int]]:
    """The round's counters as (district, code, bucket, sum, denominator, schools), one
    district's or all; only `codes` if given. Plain rows: a province has thousands."""
    t = RoundTally
    query = select(t.district_id, t.code, t.bucket, t.num, t.den, t.schools).where(
        t.round_id == round_id
    )
    if district_id is not None:
        query = query.where(t.district_id == district_id)
    if codes is not None:
        query = query.where(t.code.in_(list(codes)))
    return [
        (d, c, b, to_number(num), to_number(den), n)
        for d, c, b, num, den, n in (await session.execute(query)).all()
    ]


async def forget_moved(
    session: AsyncSession, was: Mapping[int, int | None], updates: Iterable[Mapping[str, object]]
) -> None:
    """After a roster import: the schools of `updates` whose district is no longer the
    one in `was` (school id -> district id) had their shares counted in the old one, so
    the tallies of the rounds expecting them no longer hold. Dropping the state makes
    readers add up the answers, and the next submission rebuild the tallies."""
    school_ids = [u["id"] for u in updates if was.get(u["id"]) != u["district_id"]]  # type: ignore[call-overload]
    for start in range(0, len(school_ids), 500):  # SQLite's bound-parameter limit
        chunk = school_ids[start : start + 500]
        rounds = select(RoundSchool.round_id).where(RoundSchool.school_id.in_(chunk))
        await session.execute(delete(RoundTallyState).where(RoundTallyState.round_id.in_(rounds)))
